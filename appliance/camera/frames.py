"""What a camera hands on: frames stamped at capture, and the frames chosen for inference."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame (BGR, H x W x 3) with its capture stamps."""

    image: Image
    number: int
    """1, 2, 3 … per camera, across reconnects."""
    captured_at: float
    """`time.time()` when the frame was grabbed."""
    captured_mono: float
    """`time.monotonic()` when the frame was grabbed."""


class InferReason(StrEnum):
    MOTION = "motion"
    """Enough pixels changed since the previously looked-at or the last inferred frame."""
    MIN_RATE = "min_rate"
    """Nothing moved, but the minimum inference interval had passed."""
    DUE = "due"
    """An analyzer asked for a look at this moment (a hold it times ends)."""


@dataclass(frozen=True, slots=True)
class InferenceFrame:
    """A frame the gate chose for inference, and why."""

    frame: Frame
    reason: InferReason
    motion_fraction: float
    """Share of changed pixels against the previously looked-at frame (0-1)."""
    brightness: float | None = None
    """Mean grey level (0-255) of the gate's shrunk view, when the gate measured it."""
    view: Image | None = None
    """The gate's shrunk, blurred grey view of the frame, when the gate made it."""
