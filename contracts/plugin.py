"""Model bundle manifest: what a detector plugin's model is and how to feed and decode it.

A bundle is a directory with `manifest.json` and the files it lists (with sha256). A file
path is relative to the bundle, or `pkg://<package>/<path>` for weights shipped inside an
installed Python package.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from contracts.base import ContractModel
from contracts.ids import Identifier

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_PATH = re.compile(r"^(pkg://[A-Za-z0-9_.]+/)?[A-Za-z0-9_.\-/]+$")


class BundleFile(ContractModel):
    path: str = Field(min_length=1, max_length=300, description="Relative path or pkg:// URI.")
    sha256: Sha256
    size: int | None = Field(default=None, ge=0, description="Bytes, checked before hashing.")

    @field_validator("path")
    @classmethod
    def _safe_path(cls, path: str) -> str:
        parts = path.removeprefix("pkg://").split("/")
        if not _PATH.match(path) or path.startswith("/") or ".." in parts:
            raise ValueError("must be a relative path inside the bundle or a pkg:// URI")
        return path


class InputSpec(ContractModel):
    width: int = Field(ge=16, le=4096)
    height: int = Field(ge=16, le=4096)
    layout: Literal["NHWC", "NCHW"] = "NHWC"
    color: Literal["RGB", "BGR"] = "RGB"
    dtype: Literal["uint8", "float32"] = "uint8"
    resize: Literal["stretch", "letterbox"] = Field(
        default="stretch", description="letterbox keeps aspect ratio and pads with grey."
    )
    mean: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0))
    scale: tuple[float, float, float] = Field(
        default=(1.0, 1.0, 1.0), description="Input value = (pixel - mean) * scale."
    )
    tensor: str | None = Field(default=None, description="Input tensor name; default: the only.")


class TfSsdDecoder(ContractModel):
    """TF object-detection API outputs: boxes (ymin,xmin,ymax,xmax), scores, classes, count."""

    type: Literal["tf-ssd"] = "tf-ssd"
    boxes: str = "detection_boxes"
    scores: str = "detection_scores"
    classes: str = "detection_classes"
    count: str = "num_detections"


class Yolov8Decoder(ContractModel):
    """Ultralytics YOLOv8 export: one output [1, 4 + classes, anchors], boxes cx,cy,w,h."""

    type: Literal["yolov8"] = "yolov8"
    output: str | None = Field(default=None, description="Output name; default: the only.")


class SsdAnchorsDecoder(ContractModel):
    """An SSD cut before its post-processing: box encodings, class scores and anchors.

    Boxes are decoded as the TF object-detection box coder does (anchors and boxes are
    ymin,xmin,ymax,xmax normalised; encodings ty,tx,th,tw divided by `scale_factors`), then
    per-class NMS at `thresholds.nms_iou`. Score column c is class id c (line c of labels).
    """

    type: Literal["ssd-anchors"] = "ssd-anchors"
    box_encodings: str = Field(description="Output [1, anchors, 4]: ty, tx, th, tw.")
    scores: str = Field(description="Output [1, anchors, classes]: per-class probabilities.")
    anchors: str = Field(description="Output [anchors, 4] or [1, anchors, 4]: ymin,xmin,ymax,xmax.")
    scale_factors: tuple[float, float, float, float] = Field(
        default=(10.0, 10.0, 5.0, 5.0), description="Box coder scales for ty, tx, th, tw."
    )
    background_column: int | None = Field(
        default=0, ge=0, description="Score column that is background (never reported)."
    )

    @field_validator("scale_factors")
    @classmethod
    def _positive_scales(
        cls, scales: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        if min(scales) <= 0:
            raise ValueError("scale factors must be positive")
        return scales


Decoder = Annotated[TfSsdDecoder | Yolov8Decoder | SsdAnchorsDecoder, Field(discriminator="type")]


class Thresholds(ContractModel):
    score: float = Field(default=0.5, ge=0.0, le=1.0, description="Minimum detection score.")
    nms_iou: float = Field(default=0.45, ge=0.0, le=1.0, description="Overlap for NMS.")
    max_detections: int = Field(default=100, ge=1, le=1000)


class PluginManifest(ContractModel):
    schema_version: Literal[1] = 1
    name: Identifier
    version: str = Field(pattern=r"^\d+\.\d+\.\d+([.+-][0-9A-Za-z.+-]+)?$")
    runtime: Literal["openvino", "onnxruntime"]
    device: str = Field(default="CPU", description="OpenVINO device: CPU, GPU, NPU, AUTO.")
    model: str = Field(description="Path of the model file; must be listed in `files`.")
    labels: str = Field(description="Labels file in `files`: line N names class id N.")
    files: list[BundleFile] = Field(min_length=1)
    input: InputSpec
    decoder: Decoder
    thresholds: Thresholds = Field(default_factory=Thresholds)
    report: list[str] | None = Field(
        default=None, description="Labels to report (others are dropped); default: all."
    )
    licence: str = Field(min_length=1, description="Licence and provenance of the weights.")

    @model_validator(mode="after")
    def _model_and_labels_listed(self) -> PluginManifest:
        listed = {f.path for f in self.files}
        for what, path in (("model", self.model), ("labels", self.labels)):
            if path not in listed:
                raise ValueError(f"{what} file {path!r} is not listed in files")
        return self
