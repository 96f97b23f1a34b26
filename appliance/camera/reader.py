"""The camera reader: blocking reads in a thread, reconnects with backoff, a watchdog.

One thread reads the source at a time. It opens the source, reads frames and hands each one to
`on_frame` (in the thread), stamped with capture times and a frame number. When the source fails
it is reopened after a growing, jittered delay. A watchdog task abandons a thread whose open or
read hangs past `stall_after_s` and starts a fresh one; abandoned threads end on their own when
their call returns, and at most `max_hung_threads` of them may still be blocked before the
watchdog stops starting new ones (and says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2

from appliance.camera.backoff import Backoff
from appliance.camera.capture import Capture, open_capture
from appliance.camera.errors import CameraError
from appliance.camera.frames import Frame, Image
from appliance.camera.settings import CameraSettings

log = logging.getLogger(__name__)

FrameSink = Callable[[Frame], None]
Opener = Callable[[CameraSettings], Capture]
STOP_JOIN_S = 3.0


@dataclass
class ReaderStats:
    frames_read: int = 0
    opens: int = 0
    failures: int = 0
    """Failed opens and reads (each one is followed by a backoff delay)."""
    watchdog_restarts: int = 0
    hung_threads: int = 0
    """Abandoned threads still blocked in a call."""


@dataclass(eq=False)
class _Worker:
    generation: int
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    blocked_in: str | None = None
    blocked_since: float | None = None

    def block(self, call: str) -> None:
        self.blocked_in, self.blocked_since = call, time.monotonic()

    def unblock(self) -> None:
        self.blocked_in = self.blocked_since = None

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class CameraReader:
    """Reads one camera in a background thread; `start()`/`stop()` from the event loop."""

    def __init__(
        self, settings: CameraSettings, on_frame: FrameSink, opener: Opener = open_capture
    ) -> None:
        self.settings = settings
        self._on_frame = on_frame
        self._opener = opener
        self._lock = threading.Lock()
        self._generations = itertools.count(1)
        self._worker: _Worker | None = None
        self._abandoned: list[_Worker] = []
        self._number = 0
        self._failing = False
        self._sink_failed = False
        self._cap_logged = False
        self._watchdog: asyncio.Task[None] | None = None
        self.stats = ReaderStats()
        self.last_frame_mono: float | None = None
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        return not self._failing and self.last_frame_mono is not None

    async def start(self) -> None:
        self._start_worker()
        self._watchdog = asyncio.create_task(
            self._watch(), name=f"camera-{self.settings.id}-watchdog"
        )

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        worker, self._worker = self._worker, None
        for other in self._abandoned:
            other.stop.set()
        if worker is None or worker.thread is None:
            return
        worker.stop.set()
        await asyncio.to_thread(worker.thread.join, STOP_JOIN_S)
        if worker.thread.is_alive():
            log.warning(
                "camera %s: reader thread still blocked in %s; left to end on its own",
                self.settings.id,
                worker.blocked_in,
            )

    # -- watchdog (event loop) --

    async def _watch(self) -> None:
        interval = min(0.5, self.settings.reconnect.stall_after_s / 4)
        while True:
            await asyncio.sleep(interval)
            self.check_watchdog(time.monotonic())

    def check_watchdog(self, now: float) -> None:
        """Abandon a hung or dead reader thread and start a fresh one (within the cap)."""
        limits = self.settings.reconnect
        self._abandoned = [w for w in self._abandoned if w.alive()]
        self.stats.hung_threads = len(self._abandoned)
        worker = self._worker
        if worker is not None:
            limit = limits.stall_after_s
            if worker.blocked_in == "open":
                limit += limits.open_timeout_s
            since = worker.blocked_since
            if since is not None and now - since > limit:
                self._abandon(worker, f"{worker.blocked_in} blocked for {now - since:.1f} s")
            elif not worker.alive():
                log.error("camera %s: reader thread ended unexpectedly", self.settings.id)
                with self._lock:
                    self._worker = None
        if self._worker is None:
            if len(self._abandoned) > limits.max_hung_threads:
                if not self._cap_logged:
                    log.error(
                        "camera %s: %d reader threads are hung; not starting another until "
                        "one ends",
                        self.settings.id,
                        len(self._abandoned),
                    )
                    self._cap_logged = True
                return
            self._cap_logged = False
            self._start_worker()

    def _abandon(self, worker: _Worker, why: str) -> None:
        log.warning(
            "camera %s: %s; abandoning the reader thread and reopening", self.settings.id, why
        )
        worker.stop.set()
        with self._lock:
            self._worker = None
            self._failing = True
            self.last_error = why
        self._abandoned.append(worker)
        self.stats.watchdog_restarts += 1
        self.stats.hung_threads = len(self._abandoned)

    def _start_worker(self) -> None:
        worker = _Worker(next(self._generations))
        worker.thread = threading.Thread(
            target=self._thread_main,
            args=(worker,),
            name=f"camera-{self.settings.id}-{worker.generation}",
            daemon=True,
        )
        with self._lock:
            self._worker = worker
        worker.thread.start()

    # -- reader thread --

    def _thread_main(self, worker: _Worker) -> None:
        r = self.settings.reconnect
        backoff = Backoff(r.initial_s, r.max_s, r.jitter)
        while not worker.stop.is_set():
            try:
                self._stream(worker, backoff)
            except (CameraError, cv2.error, OSError) as err:
                self._note_failure(worker, str(err))
            except Exception as err:
                log.exception("camera %s: unexpected error in the reader", self.settings.id)
                self._note_failure(worker, f"unexpected error: {err!r}")
            finally:
                worker.unblock()
            if worker.stop.wait(backoff.next_delay()):
                break

    def _stream(self, worker: _Worker, backoff: Backoff) -> None:
        worker.block("open")
        capture = self._opener(self.settings)
        worker.unblock()
        try:
            if worker is not self._worker:  # abandoned while opening
                return
            self.stats.opens += 1
            pace = capture.pace_interval
            due: float | None = None
            while not worker.stop.is_set():
                worker.block("read")
                image = capture.read()
                worker.unblock()
                if pace is not None:
                    now = time.monotonic()
                    due = now if due is None or due < now - pace else due + pace
                    if worker.stop.wait(max(0.0, due - now)):
                        return
                if not self._deliver(worker, image):
                    return
                backoff.reset()
        finally:
            capture.release()

    def _deliver(self, worker: _Worker, image: Image) -> bool:
        with self._lock:
            if worker is not self._worker or worker.stop.is_set():
                return False
            self._number += 1
            frame = Frame(image, self._number, time.time(), time.monotonic())
            self.stats.frames_read += 1
            self.last_frame_mono = frame.captured_mono
            if self._failing:
                log.info("camera %s: frames are arriving again", self.settings.id)
                self._failing = False
                self.last_error = None
            try:
                self._on_frame(frame)
            except Exception:
                if not self._sink_failed:
                    log.exception("camera %s: frame handler failed", self.settings.id)
                    self._sink_failed = True
        return True

    def _note_failure(self, worker: _Worker, reason: str) -> None:
        with self._lock:
            if worker is not self._worker:
                return
            self.stats.failures += 1
            self.last_error = reason
            if not self._failing:
                log.warning("camera %s: %s; reconnecting with backoff", self.settings.id, reason)
                self._failing = True
