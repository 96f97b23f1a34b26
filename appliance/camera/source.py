"""`CameraSource`: one camera's frames, health events and the frames chosen for inference.

    async with CameraSource(settings, on_health=handle) as camera:
        async for item in camera.frames_to_infer():
            detect(item.frame.image)

The reader thread stamps every frame; frames due at `detect_fps` get their motion measured there
and go straight to the event loop, which applies the gate; the health measurements follow, at
most every `health.check_interval_s` and after the hand-over, so a chosen frame never waits for
them. The loop debounces health. Only the newest chosen frame waits for the consumer: a slow
consumer skips frames, it never builds a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

import cv2
import numpy as np

from appliance.camera.analysis import FrameAnalyzer, FrameStats, MotionStats
from appliance.camera.capture import open_capture
from appliance.camera.errors import CameraError
from appliance.camera.frames import Frame, Image, InferenceFrame
from appliance.camera.health import CameraCondition, CameraHealthEvent, HealthMonitor
from appliance.camera.motion import DetectSchedule, InferenceGate
from appliance.camera.reader import CameraReader, Opener
from appliance.camera.settings import CameraSettings

log = logging.getLogger(__name__)

HealthCallback = Callable[[CameraHealthEvent], Awaitable[None]]
T = TypeVar("T")
TICK_S = 0.2
MAX_PENDING_HEALTH = 256
HEALTH_DRAIN_S = 2.0


@dataclass(frozen=True, slots=True)
class CameraCounters:
    frames_read: int
    """Frames decoded from the source."""
    frames_considered: int
    """Frames looked at by the motion gate (at `detect_fps`)."""
    frames_inferred: int
    """Frames the gate chose for inference (motion or minimum rate)."""
    inferred_for_motion: int
    inferred_for_min_rate: int
    inferred_when_due: int
    """Frames inferred because an analyzer asked for a look at that moment."""
    frames_taken: int
    """Chosen frames the consumer took."""
    frames_skipped: int
    """Chosen frames replaced by a newer one before the consumer took them."""
    reconnects: int
    watchdog_restarts: int
    hung_threads: int

    @property
    def gated_fraction(self) -> float:
        """Frames inferred per frame considered (0-1): how much inference the gate lets through."""
        return self.frames_inferred / self.frames_considered if self.frames_considered else 0.0


@dataclass(frozen=True, slots=True)
class _Sample:
    frame: Frame
    motion: MotionStats


class CameraSource:
    """One camera: reader thread, health monitor, motion gate; an async context manager."""

    def __init__(
        self,
        settings: CameraSettings,
        *,
        on_health: HealthCallback | None = None,
        opener: Opener = open_capture,
    ) -> None:
        self.settings = settings
        self._on_health = on_health
        self._reader = CameraReader(settings, self._on_frame, opener)
        self._schedule = DetectSchedule(settings.detect_fps)
        self._analyzer = FrameAnalyzer(settings)
        self._gate = InferenceGate(
            settings.motion.min_changed_fraction,
            settings.min_inference_interval_s,
            self._analyzer.gate,
        )
        self._monitor = HealthMonitor(settings.id, settings.health, time.monotonic())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_health = 0.0
        self._chosen: InferenceFrame | None = None
        self._chosen_ready = asyncio.Event()
        self._health_events: asyncio.Queue[CameraHealthEvent] = asyncio.Queue(MAX_PENDING_HEALTH)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._latest: Frame | None = None
        self._listeners: list[Callable[[Frame], None]] = []
        self._listener_failed = False
        self._counts = dict.fromkeys(
            ("considered", "inferred", "motion", "min_rate", "due", "taken", "skipped"), 0
        )

    # -- lifecycle --

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Load the reference view (if configured), start the reader and the health loop."""
        self._loop = asyncio.get_running_loop()
        path = self.settings.health.reference_image
        if path is not None:
            image = await asyncio.to_thread(cv2.imread, str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise CameraError(f"camera {self.settings.id}: cannot read reference {path}")
            self._analyzer.set_reference(np.asarray(image, dtype=np.uint8))
        self._monitor = HealthMonitor(self.settings.id, self.settings.health, time.monotonic())
        self._tasks = [
            asyncio.create_task(self._run(), name=f"camera-{self.settings.id}"),
            asyncio.create_task(self._dispatch_health(), name=f"camera-{self.settings.id}-health"),
        ]
        await self._reader.start()

    async def stop(self) -> None:
        """Stop reading; `frames_to_infer` iterators end."""
        self._closed = True
        self._chosen_ready.set()
        await self._reader.stop()
        if self._tasks:
            self._tasks[0].cancel()
            with contextlib.suppress(TimeoutError):  # let queued health events out first
                async with asyncio.timeout(HEALTH_DRAIN_S):
                    await self._health_events.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # -- what consumers use --

    async def frames_to_infer(self) -> AsyncIterator[InferenceFrame]:
        """The frames chosen for inference, newest first-come: a slow consumer skips frames."""
        while not self._closed:
            if self._chosen is None:
                self._chosen_ready.clear()
                await self._chosen_ready.wait()
                continue
            item, self._chosen = self._chosen, None
            self._counts["taken"] += 1
            yield item

    def counters(self) -> CameraCounters:
        c, stats = self._counts, self._reader.stats
        return CameraCounters(
            frames_read=stats.frames_read,
            frames_considered=c["considered"],
            frames_inferred=c["inferred"],
            inferred_for_motion=c["motion"],
            inferred_for_min_rate=c["min_rate"],
            inferred_when_due=c["due"],
            frames_taken=c["taken"],
            frames_skipped=c["skipped"],
            reconnects=max(0, stats.opens - 1),
            watchdog_restarts=stats.watchdog_restarts,
            hung_threads=stats.hung_threads,
        )

    def request_inference(self, at_mono: float) -> None:
        """Infer the first looked-at frame captured at or after `at_mono` (monotonic clock)."""
        self._gate.request(at_mono)

    def add_frame_listener(self, listener: Callable[[Frame], None]) -> None:
        """Call `listener` with every decoded frame, in the reader thread: keep it cheap."""
        self._listeners.append(listener)

    @property
    def active_conditions(self) -> frozenset[CameraCondition]:
        return self._monitor.active

    @property
    def latest_frame(self) -> Frame | None:
        """The newest frame read, looked at or not (for live view and snapshots)."""
        return self._latest

    @property
    def reference_image(self) -> Image | None:
        """The view `moved` compares against (save it to keep it across restarts)."""
        return self._analyzer.reference

    def set_reference(self, image: Image) -> None:
        """Accept `image` as the camera's normal view; clears an active `moved`."""
        self._analyzer.set_reference(image)
        for event in self._monitor.reset(CameraCondition.MOVED):
            self._emit(event)

    # -- reader thread side --

    def _on_frame(self, frame: Frame) -> None:
        self._latest = frame
        for listener in self._listeners:
            try:
                listener(frame)
            except Exception:
                if not self._listener_failed:
                    log.exception("camera %s: frame listener failed", self.settings.id)
                    self._listener_failed = True
        at = frame.captured_mono
        if not self._schedule.due(at):
            return
        motion = self._analyzer.motion(frame.image)
        self._to_loop(self._consider, _Sample(frame, motion))
        if at >= self._next_health:
            self._next_health = at + self.settings.health.check_interval_s
            stats = self._analyzer.health(frame.image, at, motion.fraction)
            self._to_loop(self._check_health, stats)

    def _to_loop(self, callback: Callable[[T], None], arg: T) -> None:
        loop = self._loop
        if loop is None or self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed under us
            loop.call_soon_threadsafe(callback, arg)

    # -- event loop side --

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            reader = self._reader
            now = time.monotonic()
            for event in self._monitor.on_tick(reader.last_frame_mono, now, reader.last_error):
                self._emit(event)

    def _consider(self, sample: _Sample) -> None:
        self._counts["considered"] += 1
        motion = sample.motion
        reason = self._gate.decide(motion.fraction, sample.frame.captured_mono, motion.prepared)
        if reason is None:
            return
        self._counts["inferred"] += 1
        self._counts[reason.value] += 1
        if self._chosen is not None:
            self._counts["skipped"] += 1
        self._chosen = InferenceFrame(
            sample.frame, reason, motion.fraction, motion.brightness, motion.prepared
        )
        self._chosen_ready.set()

    def _check_health(self, stats: FrameStats) -> None:
        for event in self._monitor.on_frame(stats, time.monotonic()):
            self._emit(event)

    def _emit(self, event: CameraHealthEvent) -> None:
        level = logging.WARNING if event.active else logging.INFO
        state = "started" if event.active else "cleared"
        log.log(
            level, "camera %s: %s %s: %s", event.camera_id, event.condition, state, event.detail
        )
        try:
            self._health_events.put_nowait(event)
        except asyncio.QueueFull:
            log.error("camera %s: health handler is stuck; dropped %s", event.camera_id, event)

    async def _dispatch_health(self) -> None:
        while True:
            event = await self._health_events.get()
            try:
                if self._on_health is not None:
                    await self._on_health(event)
            except Exception:
                log.exception("camera %s: health handler failed", self.settings.id)
            finally:
                self._health_events.task_done()
