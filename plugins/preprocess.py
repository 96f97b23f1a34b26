"""Turning a BGR frame into the tensor a model expects, and boxes back into the frame."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from contracts.plugin import InputSpec
from plugins.base import Frame
from plugins.lowlight import LowLightSettings, lift
from plugins.runtimes import Tensor

PAD_VALUE = 114


@dataclass(frozen=True)
class Placement:
    """Where the frame sits inside the model input, in input-normalised units."""

    scale_x: float = 1.0
    scale_y: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        fx = (x - self.offset_x) / self.scale_x
        fy = (y - self.offset_y) / self.scale_y
        return min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0)


def preprocess(
    frame: Frame, spec: InputSpec, low_light: LowLightSettings | None = None
) -> tuple[Tensor, Placement]:
    """The model's input tensor for a BGR frame; with `low_light`, a dark frame is lifted
    after the resize (cheap at model size; see `plugins.lowlight`)."""
    h, w = frame.shape[:2]
    if spec.resize == "stretch":
        image = cv2.resize(frame, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
        if low_light is not None:
            image = lift(np.asarray(image, dtype=np.uint8), low_light)
        placement = Placement()
    else:
        ratio = min(spec.width / w, spec.height / h)
        nw, nh = round(w * ratio), round(h * ratio)
        image = np.full((spec.height, spec.width, 3), PAD_VALUE, dtype=np.uint8)
        left, top = (spec.width - nw) // 2, (spec.height - nh) // 2
        content = cv2.resize(frame, (nw, nh))
        if low_light is not None:
            content = lift(np.asarray(content, dtype=np.uint8), low_light)
        image[top : top + nh, left : left + nw] = content
        placement = Placement(
            nw / spec.width, nh / spec.height, left / spec.width, top / spec.height
        )
    if spec.color == "RGB":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    tensor: Tensor = image
    if spec.dtype == "float32":
        mean = np.asarray(spec.mean, dtype=np.float32)
        scale = np.asarray(spec.scale, dtype=np.float32)
        tensor = (image.astype(np.float32) - mean) * scale
    if spec.layout == "NCHW":
        tensor = tensor.transpose(2, 0, 1)
    return np.ascontiguousarray(tensor[None]), placement
