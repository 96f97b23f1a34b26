"""Deadlines: an expired request fails fast without holding up other cameras or plugins."""

from __future__ import annotations

import asyncio
import time

import pytest

from appliance.inference import DeadlineExceeded, PluginState
from tests.appliance.inference.conftest import MakeRunner, SteadyCamera, make_frame, make_settings
from tests.appliance.inference.test_plugins import expected_label
from tests.conftest import eventually

SLOW_S = 2.0


async def test_deadline_expiry_raises_without_blocking_other_cameras(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(
        make_settings({"type": "fake-boxes"}, {"type": "slow", "delay_s": SLOW_S})
    )
    runner = started.runner

    async with SteadyCamera(runner, "healthy", "fake-boxes") as healthy:
        began = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="plugin slow, camera late: no result"):
            await runner.detect("late", make_frame(), plugin="slow", deadline_s=0.2)
        gave_up = time.monotonic() - began
        await asyncio.sleep(0.3)

    assert gave_up < SLOW_S / 2  # it did not wait for the infer to finish
    assert healthy.errors == []
    assert len(healthy.results) >= 3
    assert runner.status()["slow"].state is PluginState.READY


async def test_worker_drops_a_request_whose_deadline_passed_in_its_queue_and_says_so(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(make_settings({"type": "slow", "delay_s": 0.5}))
    runner = started.runner
    patient, hasty = make_frame(seed=1), make_frame(seed=2)

    first = asyncio.create_task(runner.detect("patient", patient, deadline_s=5.0))
    await asyncio.sleep(0.05)
    with pytest.raises(DeadlineExceeded):
        await runner.detect("hasty", hasty, deadline_s=0.1)
    result = await first

    assert result.detections[0].label == expected_label(patient)

    async def dropped() -> bool:
        return runner.status()["slow"].dropped == 1

    await eventually(dropped, 5.0)


async def test_a_frame_slot_stays_busy_until_the_worker_is_done_with_it(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(make_settings({"type": "slow", "delay_s": 0.5}, slots_per_camera=1))
    runner = started.runner
    frame = make_frame(seed=3)

    with pytest.raises(DeadlineExceeded):
        await runner.detect("cam-1", make_frame(seed=4), deadline_s=0.1)
    with pytest.raises(DeadlineExceeded, match="all 1 frame slots were still in flight"):
        await runner.detect("cam-1", frame, deadline_s=0.1)
    result = await runner.detect("cam-1", frame, deadline_s=5.0)

    assert result.detections[0].label == expected_label(frame)
