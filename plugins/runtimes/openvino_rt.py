"""OpenVINO runtime: reads IR, ONNX, TF frozen graphs and TFLite; caches what it can.

A model that is not IR is converted once and saved as IR in the cache directory (keyed
by the model's size and mtime); compiled blobs are cached by OpenVINO's CACHE_DIR.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from plugins.errors import PluginError
from plugins.runtimes import Tensor, clean_name

log = logging.getLogger(__name__)


class OpenVinoRuntime:
    def __init__(self, model: Path, *, device: str, cache_dir: Path | None) -> None:
        core = ov.Core()
        if device not in core.available_devices and device not in ("AUTO", "MULTI", "HETERO"):
            raise PluginError(
                f"OpenVINO device {device!r} is not available here: {core.available_devices}"
            )
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            config["CACHE_DIR"] = str(cache_dir / "compiled")
        started = time.monotonic()
        try:
            source = _as_ir(core, model, cache_dir)
            self._compiled = core.compile_model(str(source), device, config)
        except RuntimeError as err:
            raise PluginError(f"OpenVINO cannot load {model.name}: {err}") from err
        log.info(
            "OpenVINO loaded %s on %s in %.1f s", model.name, device, time.monotonic() - started
        )
        self._request = self._compiled.create_infer_request()
        self.input_name = clean_name(self._compiled.input(0).get_any_name())
        # A port may have several names (TF graphs do); every name is an alias.
        self._outputs = [
            (port, sorted({clean_name(n) for n in port.get_names()} or {str(i)}))
            for i, port in enumerate(self._compiled.outputs)
        ]
        self.output_names = [name for _, names in self._outputs for name in names]

    def infer(self, tensor: Tensor) -> dict[str, Tensor]:
        results = self._request.infer({0: tensor})
        outputs: dict[str, Tensor] = {}
        for port, names in self._outputs:
            value = np.asarray(results[port])
            outputs.update(dict.fromkeys(names, value))
        return outputs


def _as_ir(core: ov.Core, model: Path, cache_dir: Path | None) -> Path:
    if model.suffix in (".xml", ".onnx") or cache_dir is None:
        return model
    stat = model.stat()
    ir = cache_dir / "ir" / f"{model.stem}-{stat.st_size}-{int(stat.st_mtime)}.xml"
    if not ir.exists():
        log.info("converting %s to OpenVINO IR (once)", model.name)
        ir.parent.mkdir(parents=True, exist_ok=True)
        tmp = ir.with_suffix(".tmp.xml")
        ov.save_model(core.read_model(str(model)), str(tmp), compress_to_fp16=False)
        tmp.with_suffix(".bin").replace(ir.with_suffix(".bin"))
        tmp.replace(ir)
    return ir
