"""How the alert-latency bench ties alerts to scripted events."""

from __future__ import annotations

import time

from bench.alert_latency import HOLD_S, WAIT_S, Expected, latency_scenario, note
from bench.farm_scenes import Scenario


def expected(scenario: Scenario, captured_ago_s: float) -> Expected:
    return Expected(scenario, "intruder", 42, {42: time.time() - captured_ago_s})


def test_alert_of_the_camera_and_kind_is_timed_from_the_frame_capture() -> None:
    scenario = latency_scenario("intruder", 1)
    wanted = expected(scenario, 0.25)
    note([wanted], "sse", f"{scenario.camera_id}:intruder:gate_apron:4", "intruder")
    note([wanted], "mqtt", "other-cam:intruder:gate_apron:4", "intruder")
    note([wanted], "mqtt", f"{scenario.camera_id}:predator:4", "predator")
    latency = wanted.latency_ms("sse")
    assert latency is not None
    assert 250 <= latency < 250 + 60_000
    assert wanted.latency_ms("mqtt") is None


def test_alert_long_after_the_condition_is_not_counted() -> None:
    scenario = latency_scenario("intruder", 1)
    wanted = expected(scenario, WAIT_S + 1)
    note([wanted], "sse", f"{scenario.camera_id}:intruder:gate_apron:4", "intruder")
    assert wanted.arrived == {}


def test_hold_rules_get_the_short_bench_hold() -> None:
    configs = {c.type: c for c in latency_scenario("crowding", 1).analyzers}
    assert configs["crowding"].hold_s == HOLD_S  # type: ignore[union-attr]
    assert configs["animal_down"].lying_s == HOLD_S  # type: ignore[union-attr]


def test_an_alert_ahead_of_its_frame_is_measured_only_once_the_frame_is_captured() -> None:
    scenario = latency_scenario("animal_down", 1)
    now = time.time()
    stamps = {n: now - (41 - n) / scenario.fps for n in range(1, 42)}  # frame 42 is to come
    wanted = Expected(scenario, "animal_down", 42, stamps)
    for channel in ("sse", "mqtt"):
        note([wanted], channel, f"{scenario.camera_id}:animal_down:spot1", "animal_down")
    assert len(wanted.arrived) == 2
    assert not wanted.measured

    wanted.stamps[42] = now + 1 / scenario.fps

    assert wanted.measured
