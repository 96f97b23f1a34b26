"""ONNX Runtime on the CPU (f32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from plugins.errors import PluginError
from plugins.runtimes import Precision, Tensor, clean_name


class OnnxRuntime:
    device = "CPU"
    precision = "f32"

    def __init__(self, model: Path, *, precision: Precision = "auto") -> None:
        if precision not in ("auto", "f32"):
            raise PluginError(f"ONNX Runtime runs f32 only; precision {precision!r} is OpenVINO's")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:
            raise PluginError(f"ONNX Runtime cannot load {model.name}: {err}") from err
        self._input = self._session.get_inputs()[0].name
        self.input_name = clean_name(self._input)
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.output_names = [clean_name(n) for n in self._outputs]

    def trim(self) -> None:
        """Nothing to drop: ONNX Runtime reads the model into its own memory."""

    def infer(self, tensor: Tensor) -> dict[str, Tensor]:
        values = self._session.run(self._outputs, {self._input: tensor})
        return {clean_name(n): np.asarray(v) for n, v in zip(self._outputs, values, strict=True)}
