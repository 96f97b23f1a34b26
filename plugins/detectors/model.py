"""The bundle detector: any model bundle (manifest + files) on OpenVINO or ONNX Runtime."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from contracts.vision import Detection
from plugins.base import Detector, Frame, FrameFit, PluginConfig
from plugins.bundle import Bundle, load_bundle
from plugins.decoders import decode_outputs
from plugins.errors import PluginError
from plugins.preprocess import preprocess
from plugins.runtimes import Precision, Runtime, open_runtime

log = logging.getLogger(__name__)

SHIPPED_BUNDLE = Path(__file__).resolve().parent.parent / "bundles" / "coco-ssd-mobilenet-v2"


class ModelDetectorConfig(PluginConfig):
    type: Literal["model"] = "model"
    bundle: Path = Field(default=SHIPPED_BUNDLE, description="Bundle directory.")
    runtime: Literal["openvino", "onnxruntime"] | None = Field(
        default=None, description="Override the manifest's runtime."
    )
    device: str | None = Field(
        default=None,
        description="Override the OpenVINO device (CPU, GPU, NPU, AUTO, AUTO:GPU,CPU ...); "
        "a device this machine lacks falls back to CPU with a warning.",
    )
    precision: Precision = Field(
        default="auto",
        description="OpenVINO inference precision (INFERENCE_PRECISION_HINT); auto lets "
        "OpenVINO choose (bf16 on CPUs with AMX/AVX512-BF16, else f32). ONNX Runtime: f32.",
    )
    cache_dir: Path | None = Field(default=None, description="Converted/compiled model cache.")
    score: float | None = Field(default=None, ge=0, le=1, description="Override min score.")


class ModelDetector(Detector):
    key: ClassVar[str] = "model"
    config_model: ClassVar[type[PluginConfig]] = ModelDetectorConfig

    def __init__(self, config: PluginConfig) -> None:
        super().__init__(config)
        assert isinstance(config, ModelDetectorConfig)
        self.settings = config
        self._bundle: Bundle | None = None
        self._runtime: Runtime | None = None
        self._labels: list[str] = []

    def load(self) -> None:
        bundle = load_bundle(self.settings.bundle)
        manifest = bundle.manifest
        runtime = open_runtime(
            self.settings.runtime or manifest.runtime,
            bundle.model_path,
            device=self.settings.device or manifest.device,
            cache_dir=self.settings.cache_dir,
            precision=self.settings.precision,
        )
        self._bundle, self._runtime, self._labels = bundle, runtime, bundle.labels()
        # The first inference builds the runtime's kernels and lays out its weights (seconds on
        # a busy box, and most of the memory): do it now, so the first frame is not late.
        spec = manifest.input
        runtime.infer(preprocess(np.zeros((spec.height, spec.width, 3), np.uint8), spec)[0])
        runtime.trim()
        log.info(
            "loaded bundle %s %s on %s (%s, %s)",
            manifest.name,
            manifest.version,
            self.settings.runtime or manifest.runtime,
            runtime.device,
            runtime.precision,
        )

    @property
    def bundle(self) -> Bundle:
        """The loaded, verified bundle."""
        if self._bundle is None:
            raise PluginError("bundle before load()")
        return self._bundle

    @property
    def runtime(self) -> Runtime:
        """The loaded runtime (its `device` and `precision` say what was chosen)."""
        if self._runtime is None:
            raise PluginError("runtime before load()")
        return self._runtime

    def close(self) -> None:
        self._runtime = None

    def frame_fit(self) -> FrameFit | None:
        spec = self.bundle.manifest.input
        return FrameFit(spec.width, spec.height, spec.resize)

    def infer(self, frame: Frame) -> list[Detection]:
        if self._bundle is None or self._runtime is None:
            raise PluginError("infer() before load()")
        manifest = self._bundle.manifest
        tensor, placement = preprocess(frame, manifest.input)
        outputs = self._runtime.infer(tensor)
        thresholds = manifest.thresholds
        if self.settings.score is not None:
            thresholds = thresholds.model_copy(update={"score": self.settings.score})
        detections = decode_outputs(
            manifest.decoder,
            outputs,
            labels=self._labels,
            thresholds=thresholds,
            placement=placement,
            input_size=(manifest.input.width, manifest.input.height),
        )
        if manifest.report is not None:
            wanted = set(manifest.report)
            detections = [d for d in detections if d.label in wanted]
        return detections
