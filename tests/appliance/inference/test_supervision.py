"""Crash isolation: a plugin that aborts or hangs is killed and restarted within 5 s while
other cameras and plugins carry on; one that keeps crashing is quarantined."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from appliance.inference import (
    DeadlineExceeded,
    PluginQuarantined,
    PluginRefused,
    PluginState,
    RunnerUnavailable,
)
from tests.appliance.inference.conftest import (
    MakeRunner,
    SteadyCamera,
    eventually_state,
    first_success,
    make_frame,
    make_settings,
)
from tests.appliance.inference.test_plugins import expected_label, mark

BACK_WITHIN_S = 5.0  # the acceptance bound
STEADY_GAP_S = 1.0  # a healthy camera never waits this long (a shared worker would: ~5 s)


@pytest.mark.parametrize(
    ("config", "overrides", "error", "kind", "detail"),
    [
        pytest.param(
            {"type": "abort"},
            {},
            RunnerUnavailable,
            "crashed",
            "killed by SIGABRT; while inferring request .* from camera doomed",
            id="abort",
        ),
        pytest.param(
            {"type": "hang"},
            {},
            DeadlineExceeded,
            "hung",
            "request .* from camera doomed still running .* past its deadline; killed",
            id="hang",
        ),
        pytest.param(
            {"type": "hang", "how": "freeze"},
            {"hang_margin_s": 30.0},  # only the silence can give it away
            DeadlineExceeded,
            "hung",
            "no heartbeat for",
            id="freeze",
        ),
    ],
)
async def test_misbehaving_plugin_is_back_within_5s_while_other_cameras_never_stop(
    make_runner: MakeRunner,
    config: dict[str, str],
    overrides: dict[str, float],
    error: type[Exception],
    kind: str,
    detail: str,
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}, config, **overrides))
    runner, name = started.runner, config["type"]
    old_pid = runner.status()[name].pid
    frame = make_frame(seed=7)

    async with SteadyCamera(runner, "healthy", "fake-boxes") as healthy:
        await asyncio.sleep(0.3)
        trouble_at = time.monotonic()
        with pytest.raises(error):
            await runner.detect("doomed", mark(frame), plugin=name, deadline_s=0.5)
        back_at = await first_success(runner, "doomed", frame, name)
        await asyncio.sleep(0.3)

    assert back_at - trouble_at < BACK_WITHIN_S
    assert healthy.errors == []
    assert healthy.longest_gap() < STEADY_GAP_S
    assert started.kinds(name) == ["ready", kind, "restarted"]
    [event] = [e for e in started.events if e.kind == kind]
    assert re.search(detail, event.detail)
    status = runner.status()[name]
    assert (status.state, status.restarts, status.crashes_in_window) == (PluginState.READY, 1, 1)
    assert status.pid != old_pid


async def test_plugin_crashing_3_times_in_the_window_is_quarantined_and_others_keep_running(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}, {"type": "abort"}))
    runner = started.runner
    frame = make_frame(seed=8)

    for _ in range(3):
        await first_success(runner, "doomed", frame, "abort")
        with pytest.raises(RunnerUnavailable):
            await runner.detect("doomed", mark(frame), plugin="abort")
    await eventually_state(runner, "abort", PluginState.QUARANTINED)

    status = runner.status()["abort"]
    assert status.crashes_in_window == 3
    assert status.reason.startswith("crashed 3 times within 600 s; last: worker killed by SIGABRT")
    with pytest.raises(PluginQuarantined, match="plugin abort is quarantined: crashed 3 times"):
        await runner.detect("doomed", frame, plugin="abort")
    assert started.kinds("abort")[-2:] == ["crashed", "quarantined"]
    healthy = await runner.detect("healthy", frame, plugin="fake-boxes")
    assert healthy.detections[0].label == expected_label(frame)
    assert runner.status()["fake-boxes"].restarts == 0


async def test_a_load_keeping_the_heartbeat_silent_is_not_taken_for_a_hang(
    make_runner: MakeRunner,
) -> None:
    settings = make_settings({"type": "gil-load", "hold_s": 4})  # heartbeat timeout: 2 s
    started = await make_runner(settings)
    runner = started.runner

    await eventually_state(runner, "gil-load", PluginState.READY)
    frame = make_frame(seed=5)
    result = await runner.detect("cam", frame, plugin="gil-load")

    assert result.detections[0].label == expected_label(frame)
    assert started.kinds("gil-load") == ["ready"]
    assert runner.status()["gil-load"].restarts == 0


async def test_released_plugin_serves_again(make_runner: MakeRunner) -> None:
    started = await make_runner(make_settings({"type": "abort"}, quarantine_crashes=1))
    runner = started.runner
    frame = make_frame(seed=9)
    with pytest.raises(RunnerUnavailable):
        await runner.detect("doomed", mark(frame))
    await eventually_state(runner, "abort", PluginState.QUARANTINED)

    await runner.release("abort")
    await runner.wait_settled(20.0)

    result = await runner.detect("doomed", frame)
    assert result.detections[0].label == expected_label(frame)
    assert runner.status()["abort"].crashes_in_window == 0


async def test_crashes_further_apart_than_the_window_do_not_quarantine(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(
        make_settings({"type": "abort"}, quarantine_crashes=2, quarantine_window_s=0.2)
    )
    runner = started.runner
    frame = make_frame(seed=10)

    for _ in range(3):
        await first_success(runner, "doomed", frame, "abort")
        await asyncio.sleep(0.3)  # the previous crash leaves the window
        with pytest.raises(RunnerUnavailable):
            await runner.detect("doomed", mark(frame))
    await first_success(runner, "doomed", frame, "abort")

    status = runner.status()["abort"]
    assert (status.state, status.restarts) == (PluginState.READY, 3)
    assert "quarantined" not in started.kinds("abort")


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        pytest.param(
            {"type": "slow", "delay_s": -1},
            r"invalid config: config\.delay_s: Input should be greater than or equal to 0",
            id="field-out-of-range",
        ),
        pytest.param(
            {"type": "slow", "dely_s": 1},
            r"invalid config: config\.dely_s: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            {"type": "coco-ssd"},
            r"unknown plugin type 'coco-ssd'; available: \[.*'fake-boxes'",
            id="unknown-type",
        ),
        pytest.param(
            {"type": "fake-boxes", "fail_load": True},
            "model file fake.onnx is missing",
            id="load-fails",
        ),
    ],
)
async def test_bad_plugin_is_refused_with_a_clear_reason_and_the_others_still_load(
    make_runner: MakeRunner, config: dict[str, object], reason: str
) -> None:
    plugins = [{"name": "bad", "config": config}, {"config": {"type": "hang"}}]
    started = await make_runner(make_settings(plugins=plugins))
    runner = started.runner

    states = {name: s.state for name, s in runner.status().items()}
    assert states == {"bad": "failed", "hang": "ready"}
    assert re.search(reason, runner.status()["bad"].reason)
    with pytest.raises(PluginRefused, match=f"plugin bad was refused: {reason}"):
        await runner.detect("cam-1", make_frame(), plugin="bad")
    assert started.kinds("bad") == ["failed"]
    assert runner.status()["bad"].restarts == 0
    result = await runner.detect("cam-1", make_frame(seed=11), plugin="hang")
    assert result.detections[0].label == expected_label(make_frame(seed=11))
