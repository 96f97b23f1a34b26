"""Box arithmetic on numpy arrays: boxes are rows of normalised (x1, y1, x2, y2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from contracts.vision import Detection

Array = NDArray[np.float64]
AnchorKind = Literal["bottom_center", "center"]


def boxes_of(detections: Sequence[Detection]) -> Array:
    """An (N, 4) array of the detections' corners."""
    rows = [(d.x1, d.y1, d.x2, d.y2) for d in detections]
    return np.array(rows, dtype=np.float64).reshape(len(rows), 4)


def iou_matrix(a: Array, b: Array) -> Array:
    """Intersection over union of every box in `a` (N, 4) with every box in `b` (M, 4)."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0.0, None) * np.clip(iy2 - iy1, 0.0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: Array = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0.0)
    return out


def anchor_of(box: tuple[float, float, float, float], kind: AnchorKind) -> tuple[float, float]:
    """The point of a box that stands for the object: bottom centre (its feet) or centre."""
    x1, y1, x2, y2 = box
    return ((x1 + x2) * 0.5, y2 if kind == "bottom_center" else (y1 + y2) * 0.5)
