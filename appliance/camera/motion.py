"""Frame scheduling and motion gating: which frames are looked at, and which go to inference.

Looked-at frames (at `detect_fps`) are shrunk to a small blurred grey image; the share of pixels
that changed against the previous looked-at frame, or against the last frame sent to inference,
decides whether the frame goes to inference (an animal walking slowly changes little from one
looked-at frame to the next, but soon differs from what was last inferred). A minimum inference
rate lets a still animal be seen anyway, and an analyzer can ask for a look at a given moment
(when a hold it is timing ends).
"""

from __future__ import annotations

import cv2
import numpy as np

from appliance.camera.frames import Image, InferReason
from appliance.camera.settings import MotionSettings


def shrink(image: Image, width: int, interpolation: int = cv2.INTER_LINEAR) -> Image:
    """`image` resized to `width` pixels wide, keeping its aspect ratio."""
    height, full_width = image.shape[:2]
    size = (width, max(1, round(height * width / full_width)))
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), dtype=np.uint8)


class MotionGate:
    """Cheap motion measure: shrink, grey, blur, absdiff, threshold, count."""

    def __init__(self, settings: MotionSettings) -> None:
        self.settings = settings

    def prepare(self, image: Image) -> Image:
        """The small blurred grey image that frames are compared by."""
        small = shrink(image, self.settings.width)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        if self.settings.blur > 1:
            gray = cv2.GaussianBlur(gray, (self.settings.blur, self.settings.blur), 0)
        return np.asarray(gray, dtype=np.uint8)

    def changed_fraction(self, previous: Image, current: Image) -> float:
        """Share (0-1) of pixels whose grey level moved by more than the pixel threshold."""
        if previous.shape != current.shape:
            return 1.0
        diff = cv2.absdiff(previous, current)
        _, mask = cv2.threshold(diff, self.settings.pixel_threshold, 255, cv2.THRESH_BINARY)
        return cv2.countNonZero(mask) / float(mask.size)


class DetectSchedule:
    """Picks frames at `fps` out of a faster stream, without drifting below the rate."""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self._due: float | None = None

    def due(self, at_mono: float) -> bool:
        """Whether the frame captured at `at_mono` should be looked at (and books it)."""
        if self._due is not None and at_mono + 0.1 * self.interval < self._due:
            return False
        self._due = at_mono + self.interval if self._due is None else self._due + self.interval
        if self._due <= at_mono:
            self._due = at_mono + self.interval
        return True


class InferenceGate:
    """Motion, a requested moment, or the minimum rate sends a looked-at frame to inference."""

    def __init__(
        self, min_changed_fraction: float, min_interval_s: float, motion: MotionGate | None = None
    ) -> None:
        self.min_changed_fraction = min_changed_fraction
        self.min_interval_s = min_interval_s
        self.motion = motion
        self._last: float | None = None
        self._inferred: Image | None = None  # the prepared view of the last inferred frame
        self._wanted: float | None = None

    def request(self, at_mono: float) -> None:
        """Send the first looked-at frame captured at or after `at_mono` to inference."""
        if self._wanted is None or at_mono < self._wanted:
            self._wanted = at_mono

    def decide(
        self, motion_fraction: float, at_mono: float, prepared: Image | None = None
    ) -> InferReason | None:
        """Why the frame captured at `at_mono` goes to inference, or None. `prepared` is its
        view as `MotionGate.prepare` made it (compared with the last inferred one)."""
        if motion_fraction >= self.min_changed_fraction or self._moved_since_inferred(prepared):
            reason: InferReason | None = InferReason.MOTION
        elif self._wanted is not None and at_mono >= self._wanted:
            reason = InferReason.DUE
        elif self._last is None or at_mono - self._last >= self.min_interval_s:
            reason = InferReason.MIN_RATE
        else:
            reason = None
        if reason is not None:
            self._last = at_mono
            self._inferred = prepared
            if self._wanted is not None and at_mono >= self._wanted:
                self._wanted = None
        return reason

    def _moved_since_inferred(self, prepared: Image | None) -> bool:
        if self.motion is None or prepared is None or self._inferred is None:
            return False
        changed = self.motion.changed_fraction(self._inferred, prepared)
        return changed >= self.min_changed_fraction
