"""Measurements of looked-at frames for the gate and the health checks (reader thread)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from appliance.camera.frames import Image
from appliance.camera.motion import MotionGate, shrink
from appliance.camera.settings import CameraSettings

MIN_EDGE_SHARE = 0.005
"""Views with fewer edge pixels than this share (both together) cannot be compared."""
_DILATE = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class MotionStats:
    """What the gate needs, measured on every looked-at frame."""

    fraction: float
    """Share of changed pixels against the previous looked-at frame (0.0 for the first: the
    minimum rate sends it)."""
    brightness: float
    """Mean grey level (0-255) of the shrunk, blurred view."""
    prepared: Image | None = None
    """The shrunk, blurred grey view itself (the gate compares it with the last inferred one)."""


@dataclass(frozen=True, slots=True)
class FrameStats:
    motion_fraction: float
    """Share of changed pixels against the previous looked-at frame."""
    frozen_diff: float | None
    """Mean absolute difference to the previous health check's frame on a sparse raw pixel
    sample."""
    brightness: float
    """Mean grey level, 0-255."""
    contrast: float
    """Standard deviation of the grey levels."""
    view_similarity: float | None
    """Edge-map similarity to the reference view (0-1), when it was checked on this frame."""


def edge_map(gray: Image) -> Image:
    return np.asarray(cv2.Canny(gray, 50, 150), dtype=np.uint8)


def edge_similarity(reference: Image, edges: Image) -> float | None:
    """Share of edge pixels of each map that have an edge within 1 px in the other; None when
    the views have too few edges to tell."""
    if reference.shape != edges.shape:
        edges = np.asarray(
            cv2.resize(
                edges, (reference.shape[1], reference.shape[0]), interpolation=cv2.INTER_NEAREST
            ),
            dtype=np.uint8,
        )
    count_ref, count_cur = cv2.countNonZero(reference), cv2.countNonZero(edges)
    total = count_ref + count_cur
    if total < MIN_EDGE_SHARE * reference.size:
        return None
    near_ref = cv2.dilate(reference, _DILATE)
    near_cur = cv2.dilate(edges, _DILATE)
    hits = cv2.countNonZero(cv2.bitwise_and(reference, near_cur)) + cv2.countNonZero(
        cv2.bitwise_and(edges, near_ref)
    )
    return hits / float(total)


class FrameAnalyzer:
    """Measures looked-at frames: motion against the previous one (every frame), health
    against the previous check and the reference view (as often as the caller asks)."""

    def __init__(self, settings: CameraSettings, reference: Image | None = None) -> None:
        self.settings = settings
        self.gate = MotionGate(settings.motion)
        self._previous: Image | None = None
        self._previous_sample: Image | None = None
        self._reference_edges: Image | None = None
        self._next_view_check = 0.0
        self.reference: Image | None = None
        if reference is not None:
            self.set_reference(reference)

    def set_reference(self, image: Image) -> None:
        """Make `image` the reference view that `moved` compares against."""
        self._reference_edges = edge_map(self.gate.prepare(image))
        self.reference = image
        self._next_view_check = 0.0

    def analyze(self, image: Image, at_mono: float) -> FrameStats:
        """Both measurements of one frame."""
        return self.health(image, at_mono, self.motion(image).fraction)

    def motion(self, image: Image) -> MotionStats:
        """The gate's measurement; becomes the previous frame for the next one."""
        prepared = self.gate.prepare(image)
        fraction = (
            0.0 if self._previous is None else self.gate.changed_fraction(self._previous, prepared)
        )
        self._previous = prepared
        return MotionStats(fraction, float(cv2.mean(prepared)[0]), prepared)

    def health(self, image: Image, at_mono: float, motion_fraction: float) -> FrameStats:
        """The health measurements of the frame `motion` was last given."""
        sample = shrink(image, self.settings.motion.width, cv2.INTER_NEAREST)
        frozen: float | None = None
        if self._previous_sample is not None and self._previous_sample.shape == sample.shape:
            frozen = float(cv2.absdiff(self._previous_sample, sample).mean())
        self._previous_sample = sample

        gray = cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY)
        mean, std = cv2.meanStdDev(gray)
        brightness, contrast = float(mean[0][0]), float(std[0][0])

        similarity: float | None = None
        health = self.settings.health
        if self._reference_edges is None:
            if brightness >= health.dark_brightness and contrast >= health.blocked_contrast:
                self.set_reference(image)
        elif at_mono >= self._next_view_check and self._previous is not None:
            self._next_view_check = at_mono + health.moved_check_interval_s
            similarity = edge_similarity(self._reference_edges, edge_map(self._previous))
        return FrameStats(motion_fraction, frozen, brightness, contrast, similarity)
