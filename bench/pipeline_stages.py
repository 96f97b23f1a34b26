"""Where an inferred frame's time goes: stamps per stage, taken by wrapping, not in hot paths.

`bench.pipeline` times one camera with a `TimedSource` (the reader's decode, the motion and
health measurements, the hand-over to the event loop) and a timed worker link (request sent,
answer read). Stamps are `time.monotonic_ns()`, the clock of `Frame.captured_mono`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.camera.analysis import MotionStats
from appliance.camera.capture import Capture, open_capture
from appliance.camera.frames import Frame, Image
from appliance.camera.settings import CameraSettings
from appliance.camera.source import CameraSource, HealthCallback, _Sample
from appliance.inference.link import WorkerLink
from appliance.inference.protocol import DetectRequest, ResultMessage, StatusMessage, WorkerMessage

# (label, from stamp, to stamp), in the order a frame passes them
STAGES = (
    ("measure", "captured", "measured"),
    ("to loop", "measured", "on_loop"),
    ("to pipeline", "on_loop", "taken"),
    ("send", "taken", "sent"),
    ("round trip", "sent", "answered"),
    ("resume", "answered", "returned"),
    ("track", "returned", "tracked"),
)


@dataclass
class StageClock:
    """Stamps (ns) per frame number of one camera; read and convert times are durations."""

    stamps: dict[int, dict[str, int]] = field(default_factory=dict)
    decode_ns: dict[int, int] = field(default_factory=dict)
    infer_ms: dict[int, float] = field(default_factory=dict)
    requests: dict[int, int] = field(default_factory=dict)  # request id -> frame number
    current: int = 0  # the frame the pipeline is detecting on
    camera: str = ""  # the timed camera

    def stamp(self, number: int, stage: str, at: int | None = None) -> None:
        self.stamps.setdefault(number, {})[stage] = time.monotonic_ns() if at is None else at

    def inferred(self) -> list[dict[str, int]]:
        return [s for s in self.stamps.values() if "tracked" in s]

    def report(self) -> str:
        """Median milliseconds per stage over the inferred frames."""
        frames = self.inferred()
        if not frames:
            return "stages: no inferred frame"
        parts = []
        for label, start, end in STAGES:
            spans = [(s[end] - s[start]) / 1e6 for s in frames if start in s and end in s]
            if spans:
                parts.append(f"{label} {statistics.median(spans):.2f}")
        infer = [ms for number, ms in self.infer_ms.items() if "tracked" in self.stamps[number]]
        if infer:
            parts.append(f"(of the round trip: infer in the worker {statistics.median(infer):.2f}")
            rest = [
                (self.stamps[n]["answered"] - self.stamps[n]["sent"]) / 1e6 - ms
                for n, ms in self.infer_ms.items()
                if "tracked" in self.stamps[n]
            ]
            parts.append(f"the rest {statistics.median(rest):.2f})")
        if self.decode_ns:
            parts.append(
                f"decode (before capture) {statistics.median(self.decode_ns.values()) / 1e6:.2f}"
            )
        return f"stages over {len(frames)} inferred frames, median ms: " + ", ".join(parts)


class _TimedCapture:
    def __init__(self, capture: Capture, last: list[int]) -> None:
        self._capture = capture
        self._last = last
        self.pace_interval = capture.pace_interval

    def read(self) -> Image:
        started = time.monotonic_ns()
        image = self._capture.read()
        self._last[0] = time.monotonic_ns() - started
        return image

    def release(self) -> None:
        self._capture.release()


class TimedSource(CameraSource):
    """A camera source that stamps the stages a frame passes before the pipeline takes it."""

    def __init__(
        self, settings: CameraSettings, clock: StageClock, on_health: HealthCallback | None
    ) -> None:
        last_read = [0]

        def opener(s: CameraSettings) -> Capture:
            return _TimedCapture(open_capture(s), last_read)

        super().__init__(settings, on_health=on_health, opener=opener)
        self._clock = clock
        self._last_read = last_read
        self._number = 0
        motion: Callable[[Image], MotionStats] = self._analyzer.motion

        def timed_motion(image: Image) -> MotionStats:
            stats = motion(image)
            clock.stamp(self._number, "measured")
            return stats

        self._analyzer.motion = timed_motion  # type: ignore[method-assign]

    def _on_frame(self, frame: Frame) -> None:
        self._number = frame.number
        self._clock.decode_ns[frame.number] = self._last_read[0]
        self._clock.stamp(frame.number, "captured", round(frame.captured_mono * 1e9))
        super()._on_frame(frame)

    def _consider(self, sample: _Sample) -> None:
        self._clock.stamp(sample.frame.number, "on_loop")
        super()._consider(sample)


def time_link(link: WorkerLink, clock_of: Callable[[], StageClock | None]) -> None:
    """Stamp when each request went out and when its answer was read, on the clock that
    `clock_of` returns at the time (none: not timed)."""
    submit, handle = link.submit, link._handle

    def timed_submit(request: DetectRequest, release: Callable[[], None]) -> object:
        future = submit(request, release)
        clock = clock_of()
        if clock is not None and request.camera == clock.camera:
            clock.requests[request.id] = clock.current
            clock.stamp(clock.current, "sent")
        return future

    def timed_handle(message: WorkerMessage, on_status: Callable[[StatusMessage], None]) -> None:
        clock = clock_of()
        if clock is not None and isinstance(message, ResultMessage):
            number = clock.requests.pop(message.id, None)
            if number is not None:
                clock.stamp(number, "answered")
                clock.infer_ms[number] = message.infer_ms
        handle(message, on_status)

    link.submit = timed_submit  # type: ignore[assignment,method-assign]
    link._handle = timed_handle  # type: ignore[method-assign]
