"""One plugin's supervisor: starts its worker, watches it, restarts it, quarantines it.

A worker generation ends when the process exits, the connection closes, or the watchdog sees a
hang (silence past the heartbeat timeout, a request overrunning its deadline by the hang
margin, a load past the load timeout) and kills it. Crashes and hangs both count towards
quarantine; a refused plugin (bad config, failed load) is not restarted at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.inference.errors import (
    PluginQuarantined,
    PluginRefused,
    ProtocolError,
    RunnerUnavailable,
)
from appliance.inference.link import WorkerLink
from appliance.inference.protocol import FrameFitMessage, StatusMessage
from appliance.inference.settings import PluginSpec, RunnerSettings
from appliance.inference.status import EventKind, PluginState, PluginStatus, RunnerEvent

log = logging.getLogger(__name__)

WORKER_MODULE = "appliance.inference.worker"
STABLE_AFTER_S = 30.0  # a worker that served this long resets the restart backoff
EXIT_SETTLE_S = 1.0  # after EOF or exit, how long the other may take to follow
STDERR_TAIL = 5  # last worker output lines kept for the crash detail


@dataclass(frozen=True)
class Ending:
    """How a worker generation ended."""

    kind: EventKind  # "crashed", "hung" or "failed"
    detail: str


class PluginSupervisor:
    def __init__(
        self,
        spec: PluginSpec,
        settings: RunnerSettings,
        socket_path: Path,
        emit: Callable[[RunnerEvent], None],
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.socket_path = socket_path
        self.name = spec.name
        self.type = str(spec.config["type"])
        self._emit_event = emit
        self.state = PluginState.STOPPED
        self.reason = ""
        self.link: WorkerLink | None = None
        self.fit: FrameFitMessage | None = None  # the serving worker's; frames may be pre-sized
        self.pid: int | None = None
        self.crash_times: deque[float] = deque()
        self.restarts = 0
        self.dropped = 0  # by earlier generations
        self._refusal: str | None = None
        self._down_since: float | None = None  # set while a crashed worker is being replaced
        self._task: asyncio.Task[None] | None = None

    # --- the public face ------------------------------------------------------------------

    def start(self) -> None:
        self._set(PluginState.LOADING, "")
        self._task = asyncio.create_task(self._supervise(), name=f"runner-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.error("plugin %s: supervisor failed: %r", self.name, task.exception())

    async def release(self) -> None:
        """Lift a quarantine (or retry a refused plugin): forget its crashes and start it."""
        await self.stop()
        self.crash_times.clear()
        self._down_since = None
        self.start()

    def status(self) -> PluginStatus:
        self._forget_old_crashes(time.monotonic())
        return PluginStatus(
            name=self.name,
            type=self.type,
            state=self.state,
            reason=self.reason,
            pid=self.pid,
            crashes_in_window=len(self.crash_times),
            restarts=self.restarts,
            dropped=self.dropped + (self.link.dropped if self.link else 0),
        )

    def link_for_request(self) -> WorkerLink:
        """The serving worker's link, or the error that says why there is none."""
        if self.state is PluginState.READY and self.link is not None and not self.link.closed:
            return self.link
        if self.state is PluginState.QUARANTINED:
            raise PluginQuarantined(f"plugin {self.name} is quarantined: {self.reason}")
        if self.state is PluginState.FAILED:
            raise PluginRefused(f"plugin {self.name} was refused: {self.reason}")
        if self.state is PluginState.READY:
            raise RunnerUnavailable(f"plugin {self.name}: its worker is gone, restarting")
        because = f": {self.reason}" if self.reason else ""
        raise RunnerUnavailable(f"plugin {self.name} is {self.state.value}{because}")

    # --- the loop ---------------------------------------------------------------------------

    async def _supervise(self) -> None:
        backoff = self.settings.restart_backoff_min_s
        try:
            while True:
                started = time.monotonic()
                try:
                    ending = await self._generation()
                except OSError as err:  # no socket or no process: retried like a crash
                    ending = Ending("crashed", f"could not start the worker: {err!r}")
                if ending.kind == "failed":
                    self._set(PluginState.FAILED, ending.detail)
                    self._emit("failed", ending.detail)
                    return
                now = time.monotonic()
                if now - started > STABLE_AFTER_S:
                    backoff = self.settings.restart_backoff_min_s
                self.crash_times.append(now)
                self._forget_old_crashes(now)
                log.error("plugin %s %s: %s", self.name, ending.kind, ending.detail)
                self._emit(ending.kind, ending.detail)
                if len(self.crash_times) >= self.settings.quarantine_crashes:
                    reason = (
                        f"crashed {len(self.crash_times)} times within "
                        f"{self.settings.quarantine_window_s:g} s; last: {ending.detail}"
                    )
                    self._set(PluginState.QUARANTINED, reason)
                    self._emit("quarantined", reason)
                    return
                self._set(PluginState.CRASHED, ending.detail)
                self._down_since = now
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, self.settings.restart_backoff_max_s)
                self.restarts += 1
        finally:
            if self.state not in (PluginState.QUARANTINED, PluginState.FAILED):
                self._set(PluginState.STOPPED, "")

    def _forget_old_crashes(self, now: float) -> None:
        while self.crash_times and now - self.crash_times[0] > self.settings.quarantine_window_s:
            self.crash_times.popleft()

    def _set(self, state: PluginState, reason: str) -> None:
        self.state = state
        self.reason = reason

    def _emit(self, kind: EventKind, detail: str) -> None:
        try:
            self._emit_event(RunnerEvent(kind=kind, plugin=self.name, detail=detail))
        except Exception:  # a faulty listener must not stop supervision
            log.exception("plugin %s: event listener failed", self.name)

    def _on_status(self, message: StatusMessage) -> None:
        self.pid = message.pid
        if message.state == "loading":
            self._set(PluginState.LOADING, "")
        elif message.state == "ready":
            self.fit = message.fit
            self._set(PluginState.READY, "")
            if self._down_since is None:
                self._emit("ready", f"worker pid {message.pid}")
            else:
                down_s = time.monotonic() - self._down_since
                self._emit("restarted", f"back after {down_s:.1f} s, worker pid {message.pid}")
            self._down_since = None
        else:
            self._refusal = message.reason

    # --- one worker generation --------------------------------------------------------------

    async def _generation(self) -> Ending:
        self._set(PluginState.LOADING, "")
        self._refusal = None
        started = time.monotonic()
        process = await self._spawn()
        self.pid = process.pid
        tail: deque[str] = deque(maxlen=STDERR_TAIL)
        exited = asyncio.create_task(process.wait(), name=f"runner-{self.name}-wait")
        pump = asyncio.create_task(self._pump(process, tail), name=f"runner-{self.name}-stderr")
        link: WorkerLink | None = None
        tasks: list[asyncio.Task[object]] = []
        stopping = True
        try:
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
            except OSError as err:
                await asyncio.wait([exited], timeout=EXIT_SETTLE_S)
                stopping = False
                return self._crash_ending(f"could not connect: {err!r}", process, None, tail)
            link = self.link = WorkerLink(self.name, reader, writer)
            reading = asyncio.create_task(link.read(self._on_status), name=f"runner-{self.name}")
            watching = asyncio.create_task(
                self._watch(link, started), name=f"runner-{self.name}-dog"
            )
            tasks = [reading, watching]
            done, _ = await asyncio.wait([exited, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if watching in done:
                stopping = False
                return Ending("hung", f"{watching.result()}; killed")
            await asyncio.wait([exited, reading], timeout=EXIT_SETTLE_S)  # let it finish saying why
            stopping = False
            if self._refusal is not None:
                return Ending("failed", self._refusal)
            problem = reading.exception() if reading.done() else None
            why = f"protocol error: {problem}" if isinstance(problem, ProtocolError) else ""
            return self._crash_ending(why, process, link, tail)
        finally:
            await self._end_generation(process, exited, pump, link, tasks, graceful=stopping)

    async def _spawn(self) -> asyncio.subprocess.Process:
        self.socket_path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.socket_path))
            listener.listen(1)
            args = [
                "-m",
                WORKER_MODULE,
                "--listen-fd",
                str(listener.fileno()),
                "--name",
                self.name,
                "--config",
                json.dumps(self.spec.config),
                "--heartbeat-s",
                str(self.settings.heartbeat_interval_s),
                "--log-level",
                "WARNING",
            ]
            for module in self.settings.extra_modules:
                args += ["--extra-module", module]
            return await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(listener.fileno(),),
                env=_child_environment(),
            )
        finally:
            listener.close()  # the worker holds its own copy; a fresh socket per generation

    async def _watch(self, link: WorkerLink, started: float) -> str:
        """Return (the reason) as soon as the worker looks hung."""
        settings = self.settings
        tick = min(0.1, settings.heartbeat_interval_s / 2)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if self.state is PluginState.LOADING:
                # the load timeout alone covers start-up: a runtime converting or compiling a
                # model may hold the GIL for seconds, so the heartbeat thread cannot speak
                if now - started > settings.load_timeout_s:
                    return f"not ready after {settings.load_timeout_s:g} s"
                continue
            silent = now - (link.last_heard or now)
            if silent > settings.heartbeat_timeout_s:
                return f"no heartbeat for {silent:.1f} s"
            entry = link.overdue(now, settings.hang_margin_s)
            if entry is not None:
                late = now - entry.request.deadline
                return (
                    f"request {entry.request.id} from camera {entry.request.camera} still "
                    f"running {late:.1f} s past its deadline"
                )

    async def _pump(self, process: asyncio.subprocess.Process, tail: deque[str]) -> None:
        """Relay the worker's stderr to the log, keeping the last lines for crash details."""
        assert process.stderr is not None
        while True:
            try:
                line = await process.stderr.readline()
            except ValueError:  # a line over the stream limit: it was discarded
                line = b"(over-long output line)"
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            tail.append(text)
            log.warning("plugin %s: %s", self.name, text)

    def _crash_ending(
        self,
        why: str,
        process: asyncio.subprocess.Process,
        link: WorkerLink | None,
        tail: deque[str],
    ) -> Ending:
        parts = [why or f"worker {_describe_exit(process.returncode)}"]
        head = link.head() if link else None
        if head is not None:
            parts.append(
                f"while inferring request {head.request.id} from camera {head.request.camera}"
            )
        if tail:
            parts.append(f"last output: {tail[-1]}")
        return Ending("crashed", "; ".join(parts))

    async def _end_generation(
        self,
        process: asyncio.subprocess.Process,
        exited: asyncio.Task[int],
        pump: asyncio.Task[None],
        link: WorkerLink | None,
        tasks: list[asyncio.Task[object]],
        *,
        graceful: bool,
    ) -> None:
        """Stop the worker (politely when `graceful`), reap it, then fail what it held."""
        if graceful and link is not None:
            await link.close()  # EOF tells the worker to exit
            await asyncio.wait([exited], timeout=self.settings.shutdown_grace_s)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await asyncio.wait([exited])
        if link is not None:
            reason = (
                "runner stopped" if graceful else f"worker {_describe_exit(process.returncode)}"
            )
            link.fail_all(RunnerUnavailable(f"plugin {self.name}: {reason}"))
            await link.close()
        for task in tasks:
            task.cancel()
        await asyncio.wait([*tasks, pump], timeout=EXIT_SETTLE_S)
        pump.cancel()
        await asyncio.wait([*tasks, pump])
        for task in (*tasks, pump):
            if not task.cancelled() and task.exception() is not None:
                log.debug(
                    "plugin %s: %s ended with %r", self.name, task.get_name(), task.exception()
                )
        self.link = None
        self.pid = None
        if link is not None:
            self.dropped += link.dropped
        self.socket_path.unlink(missing_ok=True)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _child_environment() -> dict[str, str]:
    """The worker imports what the appliance can import (plugin modules included)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    return env
