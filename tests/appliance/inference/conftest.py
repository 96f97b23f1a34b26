"""Fixtures of the runner tests: runners with the test plugins, frames, steady cameras."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.inference import (
    PluginState,
    Runner,
    RunnerEvent,
    RunnerSettings,
    RunnerUnavailable,
)
from appliance.inference.shm import SHM_DIR, segment_prefix
from plugins.base import Frame
from tests.conftest import eventually

TEST_PLUGINS = "tests.appliance.inference.test_plugins"
WORKER_MODULE = "appliance.inference.worker"

# quick to detect trouble and to restart, so the suite stays short
FAST: dict[str, Any] = {
    "request_timeout_s": 2.0,
    "hang_margin_s": 0.5,
    "heartbeat_interval_s": 0.2,
    "heartbeat_timeout_s": 2.0,
    "restart_backoff_min_s": 0.1,
    "restart_backoff_max_s": 0.4,
    "shutdown_grace_s": 1.0,
    "load_timeout_s": 20.0,
}


def make_settings(*configs: dict[str, Any], **overrides: Any) -> RunnerSettings:
    values: dict[str, Any] = {
        **FAST,
        "extra_modules": [TEST_PLUGINS],
        "plugins": [{"config": config} for config in configs],
    }
    values.update(overrides)
    return RunnerSettings.model_validate(values)


def make_frame(height: int = 720, width: int = 1280, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    frame: Frame = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    frame[0, 0] = (1, 2, 3)  # never the mark
    return frame


@dataclass
class StartedRunner:
    runner: Runner
    events: list[RunnerEvent]

    def kinds(self, plugin: str) -> list[str]:
        return [e.kind for e in self.events if e.plugin == plugin]


MakeRunner = Callable[..., Awaitable[StartedRunner]]


@pytest.fixture
async def make_runner() -> AsyncIterator[MakeRunner]:
    """Start runners and wait until their plugins settle; all are stopped at teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(settings: RunnerSettings) -> StartedRunner:
            events: list[RunnerEvent] = []
            runner = await stack.enter_async_context(Runner(settings, on_event=events.append))
            await runner.wait_settled(20.0)
            return StartedRunner(runner, events)

        yield make


async def first_success(
    runner: Runner, camera: str, frame: Frame, plugin: str, seconds: float = 10.0
) -> float:
    """When a detect first succeeds, retrying while the plugin is unavailable."""
    for _ in range(int(seconds / 0.02)):
        with contextlib.suppress(RunnerUnavailable):
            await runner.detect(camera, frame, plugin=plugin, deadline_s=2.0)
            return time.monotonic()
        await asyncio.sleep(0.02)
    raise AssertionError(f"plugin {plugin} gave no result within {seconds} s")


@dataclass
class SteadyCamera:
    """A camera detecting every `period_s` in the background; records when results came."""

    runner: Runner
    camera: str
    plugin: str
    period_s: float = 0.02
    results: list[float] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SteadyCamera:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.wait([self._task])

    async def _run(self) -> None:
        frame = make_frame(seed=99)
        while True:
            try:
                await self.runner.detect(self.camera, frame, plugin=self.plugin, deadline_s=1.0)
                self.results.append(time.monotonic())
            except RunnerUnavailable as err:
                self.errors.append(err)
            await asyncio.sleep(self.period_s)

    def longest_gap(self) -> float:
        return float(np.diff(self.results).max())


def worker_children() -> list[int]:
    """Pids of this process's children running the worker module."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            if ppid == me and WORKER_MODULE in cmdline:
                found.append(int(entry.name))
    return found


def leaked_segments() -> list[str]:
    return sorted(p.name for p in SHM_DIR.iterdir() if p.name.startswith(segment_prefix()))


async def eventually_state(runner: Runner, plugin: str, state: PluginState) -> None:
    async def reached() -> bool:
        return runner.status()[plugin].state is state

    await eventually(reached, 10.0)
