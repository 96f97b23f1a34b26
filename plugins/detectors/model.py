"""The bundle detector: any model bundle (manifest + files) on OpenVINO or ONNX Runtime."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from contracts.plugin import Thresholds
from contracts.vision import Detection
from plugins.base import Detector, Frame, FrameFit, PluginConfig
from plugins.bundle import Bundle, load_bundle
from plugins.decoders import decode_outputs, nms
from plugins.errors import PluginError
from plugins.lowlight import LowLightSettings, is_dark
from plugins.preprocess import Placement, preprocess
from plugins.runtimes import Precision, Runtime, Tensor, open_runtime

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
    low_light: LowLightSettings = Field(
        default_factory=LowLightSettings,
        description="Lift dark frames (dusk, night) before inference; `enabled: false` to skip.",
    )


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
        thresholds = manifest.thresholds
        if self.settings.score is not None:
            thresholds = thresholds.model_copy(update={"score": self.settings.score})
        low_light = self.settings.low_light
        if not is_dark(frame, low_light):
            return self._detect(preprocess(frame, manifest.input), thresholds)
        lifted = self._detect(preprocess(frame, manifest.input, low_light), thresholds)
        if low_light.passes == "lifted":
            return lifted
        # both passes: the lift finds the animals, but loses some people on the same frames
        plain = self._detect(preprocess(frame, manifest.input), thresholds)
        return merge_passes(plain + lifted, thresholds.nms_iou)

    def _detect(
        self, prepared: tuple[Tensor, Placement], thresholds: Thresholds
    ) -> list[Detection]:
        manifest = self.bundle.manifest
        tensor, placement = prepared
        outputs = self.runtime.infer(tensor)
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


def merge_passes(detections: list[Detection], iou: float) -> list[Detection]:
    """One list from two passes over a frame: per-class NMS, best score first."""
    if not detections:
        return []
    boxes = np.array([(d.x1, d.y1, d.x2, d.y2) for d in detections], dtype=np.float64)
    scores = np.array([d.score for d in detections], dtype=np.float64)
    classes = np.array([d.class_id for d in detections], dtype=np.int64)
    return [detections[i] for i in nms(boxes, scores, iou, classes=classes)]
