"""The runner: one supervised worker per plugin, and the client camera pipelines call.

async with Runner(settings, on_event=queue.put_nowait) as runner:
    result = await runner.detect("cam-1", frame, deadline_s=0.5)
"""

from __future__ import annotations

import asyncio
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
from appliance.inference.errors import UnknownPlugin
from appliance.inference.settings import RunnerSettings
from appliance.inference.status import PluginState, PluginStatus, RunnerEvent
from appliance.inference.supervisor import PluginSupervisor

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with the terminating NUL
SETTLED = frozenset({PluginState.READY, PluginState.FAILED, PluginState.QUARANTINED})


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

    def _make_socket_dir(self) -> Path:
        if self.settings.socket_dir is None:
            self._own_socket_dir = True
            return Path(tempfile.mkdtemp(prefix="byre-runner-"))
        self.settings.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.settings.socket_dir

    def _emit(self, event: RunnerEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
