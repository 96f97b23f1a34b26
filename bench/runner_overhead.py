"""What the model runner adds to an inference: IPC, shared-memory copy, JSON, scheduling.

    python -m bench.runner_overhead [--frames 200]

Runs the test plugin `fake-boxes` (a CRC of the frame) in process and through the runner on
the same 1280x720 frame, then a plugin that sleeps 25 ms (about the shipped detector's time)
through the runner. The last line is
`BENCH runner_overhead direct_ms=<median> runner_ms=<median> overhead_ms=<difference>`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np

from appliance.inference import PluginSpec, Runner, RunnerSettings
from plugins.base import Detector
from tests.appliance.inference.test_plugins import FakeBoxes, FakeBoxesConfig, Slow, SlowConfig

TEST_PLUGINS = "tests.appliance.inference.test_plugins"
SLEEP_MS = 25.0


def make_frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(720, 1280, 3), dtype=np.uint8)


def direct_ms(plugin: Detector, frame: np.ndarray, frames: int) -> float:
    plugin.load()
    times = []
    for _ in range(frames):
        started = time.perf_counter()
        plugin.infer(frame)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def runner_ms(runner: Runner, plugin: str, frame: np.ndarray, frames: int) -> float:
    for _ in range(10):  # warm up: ring allocation, page faults
        await runner.detect("bench", frame, plugin=plugin, deadline_s=5.0)
    times = []
    for _ in range(frames):
        started = time.perf_counter()
        await runner.detect("bench", frame, plugin=plugin, deadline_s=5.0)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(frames: int) -> None:
    frame = make_frame()
    settings = RunnerSettings(
        extra_modules=[TEST_PLUGINS],
        plugins=[
            PluginSpec(config={"type": "fake-boxes"}),
            PluginSpec(config={"type": "slow", "delay_s": SLEEP_MS / 1000}),
        ],
    )
    async with Runner(settings) as runner:
        statuses = await runner.wait_settled(30.0)
        not_ready = {name: s.reason for name, s in statuses.items() if s.state != "ready"}
        if not_ready:
            raise SystemExit(f"plugins not ready: {not_ready}")
        via_runner = await runner_ms(runner, "fake-boxes", frame, frames)
        slow = await runner_ms(runner, "slow", frame, max(frames // 4, 20))
    direct = direct_ms(FakeBoxes(FakeBoxesConfig()), frame, frames)
    slow_direct = direct_ms(Slow(SlowConfig(delay_s=SLEEP_MS / 1000)), frame, max(frames // 4, 20))
    print(
        f"a {SLEEP_MS:g} ms plugin: {slow_direct:.2f} ms in process, {slow:.2f} ms through the "
        f"runner (ratio {slow / slow_direct:.3f})"
    )
    print(
        f"BENCH runner_overhead direct_ms={direct:.2f} runner_ms={via_runner:.2f} "
        f"overhead_ms={via_runner - direct:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=200, help="Measured requests per case.")
    asyncio.run(main(parser.parse_args().frames))
