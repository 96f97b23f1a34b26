"""One camera's media tap: the pre-event ring, the clips being recorded, recent overlays.

`on_frame` runs in the camera's reader thread for every decoded frame; it keeps one frame per
recording interval (`fps`), JPEG-encodes it (OpenCV releases the GIL) and hands it to the ring
and to every clip being recorded. `note_view` runs on the event loop for each inferred frame
and keeps the last few with their boxes, so a snapshot can show the very frame of an event.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from appliance.camera.frames import Frame, Image
from appliance.media.overlay import (
    OverlayBox,
    OverlayZone,
    TrackLike,
    ZoneLike,
    boxes_of,
    zones_of,
)
from appliance.media.ring import BufferedFrame, FrameRing
from appliance.media.settings import MediaSettings

log = logging.getLogger(__name__)

RING_SLACK_S = 2.0
"""Kept beyond `pre_s`, so an incident that opens a little after its event still gets it all."""
VIEWS_KEPT = 3
EARLY_FRACTION = 0.25
"""A frame this share of an interval early still counts as due (sources jitter)."""


@dataclass(frozen=True, slots=True)
class View:
    """An inferred frame (raw pixels, shared with the pipeline) and its tracked boxes."""

    captured_at: float
    image: Image
    boxes: list[OverlayBox]


@dataclass(eq=False)
class Collector:
    """The frames of one clip while it records (appended by the reader thread)."""

    frames: list[BufferedFrame] = field(default_factory=list)


class CameraBuffer:
    def __init__(self, camera_id: str, settings: MediaSettings, zones: list[OverlayZone]) -> None:
        self.camera_id = camera_id
        self.settings = settings
        self.zones = zones
        span = settings.pre_s + RING_SLACK_S
        self.ring = FrameRing(span, max_frames=math.ceil(span * settings.fps) + 2)
        self._interval = 1.0 / settings.fps
        self._due: float | None = None
        self._lock = threading.Lock()
        self._collectors: list[Collector] = []
        self._views: deque[View] = deque(maxlen=VIEWS_KEPT)
        self._encode_failed = False
        self.frames_kept = 0

    # -- reader thread --

    def on_frame(self, frame: Frame) -> None:
        """Keep `frame` if a recording interval has passed (called for every decoded frame)."""
        now = frame.captured_mono
        due = self._due
        if due is not None and now < due - self._interval * EARLY_FRACTION:
            return
        self._due = (
            now + self._interval
            if due is None or due < now - self._interval
            else (due + self._interval)
        )
        jpeg = self._jpeg(frame.image)
        if jpeg is None:
            return
        item = BufferedFrame(frame.captured_at, jpeg)
        with self._lock:
            self.ring.push(item)
            for collector in self._collectors:
                collector.frames.append(item)
            self.frames_kept += 1

    def _jpeg(self, image: Image) -> bytes | None:
        ok, data = cv2.imencode(
            ".jpg",
            fit_width(image, self.settings.max_width),
            [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality],
        )
        if not ok:
            if not self._encode_failed:
                log.error("camera %s: cannot JPEG-encode frames for clips", self.camera_id)
                self._encode_failed = True
            return None
        return data.tobytes()

    # -- event loop --

    def note_view(
        self, frame: Frame, tracks: Iterable[TrackLike], zones: Iterable[ZoneLike]
    ) -> None:
        """Remember an inferred frame, its tracked boxes and the camera's zones (snapshots)."""
        self._views.append(View(frame.captured_at, frame.image, boxes_of(tracks)))
        self.zones = zones_of(zones)

    def view_at(self, t: float, tolerance_s: float = 1e-3) -> View | None:
        """The remembered inferred frame captured at `t`, if it is still here."""
        return next((v for v in self._views if abs(v.captured_at - t) <= tolerance_s), None)

    def start_collecting(self, since: float) -> Collector:
        """A collector holding the ring's frames from `since` on, then every new frame."""
        with self._lock:
            collector = Collector(self.ring.since(since))
            self._collectors.append(collector)
        return collector

    def stop_collecting(self, collector: Collector) -> list[BufferedFrame]:
        with self._lock:
            if collector in self._collectors:
                self._collectors.remove(collector)
            return list(collector.frames)

    def newest_in(self, collector: Collector) -> float | None:
        with self._lock:
            return collector.frames[-1].captured_at if collector.frames else None


def fit_width(image: Image, max_width: int) -> Image:
    """`image` scaled down to at most `max_width` pixels wide (aspect kept)."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image
    size = (max_width, max(2, round(height * max_width / width)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
