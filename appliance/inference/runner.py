"""The runner: one supervised worker per plugin, and the client camera pipelines call.

async with Runner(settings, on_event=queue.put_nowait) as runner:
    result = await runner.detect("cam-1", frame, deadline_s=0.5)
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from appliance.errors import SettingsError
from appliance.inference.client import DetectResult, RunnerClient
from appliance.inference.errors import PluginRefused, UnknownPlugin
from appliance.inference.settings import PluginSpec, RunnerSettings
from appliance.inference.status import PluginState, PluginStatus, RunnerEvent
from appliance.inference.supervisor import PluginSupervisor

log = logging.getLogger(__name__)

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with the terminating NUL
SETTLED = frozenset({PluginState.READY, PluginState.FAILED, PluginState.QUARANTINED})
# a replacement is judged on its first generation: a crash while loading refuses it too
CANDIDATE_SETTLED = SETTLED | {PluginState.CRASHED, PluginState.STOPPED}
DRAIN_POLL_S = 0.02


class Runner:
    def __init__(
        self, settings: RunnerSettings, *, on_event: Callable[[RunnerEvent], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_event = on_event
        self.supervisors: dict[str, PluginSupervisor] = {}
        self.client = RunnerClient(settings, self.supervisors)
        self.socket_dir: Path | None = None
        self._own_socket_dir = False
        self._generation = 0  # numbers the socket paths of replacement workers
        self._replacing: set[str] = set()

    async def __aenter__(self) -> Runner:
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
        """Start every plugin's worker; they load in the background (see `wait_settled`)."""
        self.socket_dir = self._make_socket_dir()
        for spec in self.settings.plugins:
            path = self.socket_dir / f"{spec.name}.sock"
            if len(str(path)) > MAX_SOCKET_PATH:
                await self.stop()
                raise SettingsError(
                    f"socket_dir: socket path {path} is longer than {MAX_SOCKET_PATH} bytes"
                )
            self.supervisors[spec.name] = PluginSupervisor(spec, self.settings, path, self._emit)
        for supervisor in self.supervisors.values():
            supervisor.start()

    async def stop(self) -> None:
        """Stop every worker (killing those that do not exit in time) and free all memory."""
        await asyncio.gather(*(s.stop() for s in self.supervisors.values()))
        self.client.close()
        if self._own_socket_dir and self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self._own_socket_dir = False

    async def detect(
        self,
        camera_id: str,
        frame_bgr: NDArray[np.uint8],
        *,
        plugin: str | None = None,
        deadline_s: float | None = None,
    ) -> DetectResult:
        """See `RunnerClient.detect`."""
        return await self.client.detect(camera_id, frame_bgr, plugin=plugin, deadline_s=deadline_s)

    def status(self) -> dict[str, PluginStatus]:
        return {name: s.status() for name, s in self.supervisors.items()}

    async def wait_settled(self, timeout_s: float | None = None) -> dict[str, PluginStatus]:
        """Wait until every plugin is ready, failed or quarantined (at most `timeout_s`)."""
        limit = time.monotonic() + (timeout_s or self.settings.load_timeout_s)
        while time.monotonic() < limit:
            statuses = self.status()
            if all(s.state in SETTLED for s in statuses.values()):
                return statuses
            await asyncio.sleep(0.05)
        return self.status()

    async def release(self, plugin: str) -> None:
        """Lift a plugin's quarantine (or retry a refused one) and start it again."""
        supervisor = self.supervisors.get(plugin)
        if supervisor is None:
            raise UnknownPlugin(
                f"no plugin named {plugin!r}; configured: {sorted(self.supervisors)}"
            )
        await supervisor.release()

    async def replace(self, name: str, spec: PluginSpec) -> PluginStatus:
        """Swap plugin `name` for a new config without a gap in service.

        A new worker loads `spec` next to the serving one; once it is ready it takes the
        requests and the old worker is stopped after finishing what it holds. When the new
        worker is refused (bad bundle, invalid config, failed or crashed load, not ready within
        `load_timeout_s`) it is stopped, the old worker goes on serving and `PluginRefused`
        names the problem. The spec keeps the plugin's name, so cameras need no change.
        """
        old = self.supervisors.get(name)
        if old is None or self.socket_dir is None:
            raise UnknownPlugin(f"no plugin named {name!r}; configured: {sorted(self.supervisors)}")
        if name in self._replacing:
            raise PluginRefused(f"plugin {name}: a replacement is already loading")
        spec = spec.model_copy(update={"name": name})
        self._generation += 1
        path = self.socket_dir / f"{name}.{self._generation}.sock"
        if len(str(path)) > MAX_SOCKET_PATH:
            raise PluginRefused(f"plugin {name}: socket path {path} is too long")
        candidate = PluginSupervisor(spec, self.settings, path, self._candidate_emit(name))
        self._replacing.add(name)
        try:
            candidate.start()
            status = await self._wait_candidate(candidate)
            if status.state is not PluginState.READY:
                await candidate.stop()
                reason = status.reason or f"not ready ({status.state.value})"
                self._emit(RunnerEvent("refused", name, reason))
                raise PluginRefused(f"plugin {name}: new config refused, old one kept: {reason}")
            self.supervisors[name] = candidate
            candidate._emit_event = self._emit  # serving now: its events are the plugin's
        except BaseException:
            if self.supervisors.get(name) is not candidate:
                await candidate.stop()
            raise
        finally:
            self._replacing.discard(name)
        self._emit(RunnerEvent("replaced", name, f"new worker pid {status.pid}"))
        await self._drain(old)
        await old.stop()
        return candidate.status()

    async def _wait_candidate(self, candidate: PluginSupervisor) -> PluginStatus:
        limit = time.monotonic() + self.settings.load_timeout_s
        while time.monotonic() < limit:
            status = candidate.status()
            if status.state in CANDIDATE_SETTLED:
                return status
            await asyncio.sleep(DRAIN_POLL_S * 2)
        return candidate.status()

    async def _drain(self, old: PluginSupervisor) -> None:
        """Let the old worker answer what it already holds (bounded by the hang limits)."""
        wait_s = self.settings.request_timeout_s + self.settings.hang_margin_s
        for _ in range(int(wait_s / DRAIN_POLL_S) + 1):
            if old.link is None or not old.link.in_flight:
                return
            await asyncio.sleep(DRAIN_POLL_S)

    def _candidate_emit(self, name: str) -> Callable[[RunnerEvent], None]:
        """A loading replacement speaks only through `replace` (its failure is not the plugin's)."""

        def emit(event: RunnerEvent) -> None:
            log.info("plugin %s replacement: %s %s", name, event.kind, event.detail)

        return emit

    def _make_socket_dir(self) -> Path:
        if self.settings.socket_dir is None:
            self._own_socket_dir = True
            return Path(tempfile.mkdtemp(prefix="byre-runner-"))
        self.settings.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.settings.socket_dir

    def _emit(self, event: RunnerEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
