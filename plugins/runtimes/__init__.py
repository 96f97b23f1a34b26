"""Model runtimes behind one small interface: named input in, named outputs out."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from plugins.errors import PluginError

Tensor = NDArray[np.generic]
Precision = Literal["auto", "f32", "bf16", "f16"]


class Runtime(Protocol):
    input_name: str
    output_names: list[str]
    device: str
    """The device the model was compiled for (after any fallback), e.g. `CPU`."""
    precision: str
    """The inference precision in use: `f32`, `bf16`, `f16`, or `auto` if unknown."""

    def infer(self, tensor: Tensor) -> dict[str, Tensor]:
        """Run the model on one input tensor; outputs by name (without a `:0` suffix)."""
        ...

    def trim(self) -> None:
        """After the first inference: let go of load-time memory the runtime no longer reads."""
        ...


def open_runtime(
    kind: str,
    model: Path,
    *,
    device: str,
    cache_dir: Path | None,
    precision: Precision = "auto",
) -> Runtime:
    """Load `model` on the named runtime; imported lazily so a missing runtime only
    disables the plugins that need it."""
    if kind == "openvino":
        from plugins.runtimes.openvino_rt import OpenVinoRuntime

        return OpenVinoRuntime(model, device=device, cache_dir=cache_dir, precision=precision)
    if kind == "onnxruntime":
        from plugins.runtimes.onnx_rt import OnnxRuntime

        return OnnxRuntime(model, precision=precision)
    raise PluginError(f"unknown runtime {kind!r}")


def clean_name(name: str) -> str:
    return name.removesuffix(":0")
