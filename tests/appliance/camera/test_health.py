"""Health checks on synthetic measurements: debouncing, night allowance, the view comparison."""

from __future__ import annotations

from datetime import time

import numpy as np
import pytest

from appliance.camera import CameraCondition, HealthSettings, MotionSettings, NightAllowance
from appliance.camera.analysis import FrameStats, edge_map, edge_similarity
from appliance.camera.backoff import Backoff
from appliance.camera.health import Debouncer, HealthMonitor
from appliance.camera.motion import MotionGate
from tests.appliance.camera.media import moving_square, shifted, textured_view, with_noise

NORMAL = FrameStats(0.0, 3.0, 120.0, 40.0, 0.9)


def stats(**changes: float | None) -> FrameStats:
    values = {
        "motion_fraction": NORMAL.motion_fraction,
        "frozen_diff": NORMAL.frozen_diff,
        "brightness": NORMAL.brightness,
        "contrast": NORMAL.contrast,
        "view_similarity": NORMAL.view_similarity,
        **changes,
    }
    return FrameStats(**values)  # type: ignore[arg-type]


def test_debounced_condition_activates_after_it_held_and_clears_after_it_was_gone() -> None:
    debouncer = Debouncer(activate_after=2.0, clear_after=1.0)
    feed = [(0.0, True), (1.0, True), (1.5, False), (2.0, True), (3.9, True), (4.0, True)]
    feed += [(4.5, False), (5.0, True), (5.2, False), (6.1, False), (6.2, False)]

    changes = [(at, debouncer.update(raw, at)) for at, raw in feed]

    assert [(at, state) for at, state in changes if state is not None] == [
        (4.0, True),
        (6.2, False),
    ]


def test_offline_starts_when_no_frame_came_for_the_threshold_and_clears_on_frames() -> None:
    monitor = HealthMonitor("cam1", HealthSettings(offline_after_s=3.0, clear_after_s=1.0), 0.0)

    quiet = monitor.on_tick(None, 2.9)
    started = monitor.on_tick(None, 3.0, "cannot open rtsp://cam/1")
    still = monitor.on_tick(None, 10.0)
    first_frame = monitor.on_tick(10.5, 10.6)
    cleared = monitor.on_tick(11.5, 11.6)

    assert quiet == still == first_frame == []
    assert [(e.condition, e.active) for e in started] == [(CameraCondition.OFFLINE, True)]
    assert started[0].detail == "no frames for 3.0 s: cannot open rtsp://cam/1"
    assert [(e.condition, e.active) for e in cleared] == [(CameraCondition.OFFLINE, False)]


@pytest.mark.parametrize(
    ("measured", "condition"),
    [
        (stats(frozen_diff=0.0), CameraCondition.FROZEN),
        (stats(brightness=5.0, contrast=2.0), CameraCondition.DARK),
        (stats(contrast=2.0), CameraCondition.BLOCKED),
        (stats(view_similarity=0.2), CameraCondition.MOVED),
    ],
)
def test_each_condition_starts_after_its_time_and_clears(
    measured: FrameStats, condition: CameraCondition
) -> None:
    settings = HealthSettings(
        frozen_after_s=1.0,
        dark_after_s=1.0,
        blocked_after_s=1.0,
        moved_after_s=1.0,
        clear_after_s=0.5,
    )
    monitor = HealthMonitor("cam1", settings, 0.0)

    bad = [e for at in (0.0, 0.5, 1.0) for e in monitor.on_frame(measured, at)]
    active = monitor.active
    good = [e for at in (1.2, 1.8) for e in monitor.on_frame(NORMAL, at)]

    assert [(e.condition, e.active) for e in bad] == [(condition, True)]
    assert active == {condition}
    assert [(e.condition, e.active) for e in good] == [(condition, False)]
    assert monitor.active == frozenset()


@pytest.mark.parametrize(
    ("night", "expected"),
    [
        (None, {CameraCondition.DARK}),
        (NightAllowance(start=time(0, 0), end=time(0, 0)), set()),
        (
            NightAllowance(start=time(0, 0), end=time(0, 0), dark_brightness=10),
            {CameraCondition.DARK},
        ),
    ],
)
def test_night_allowance_tolerates_a_dark_view(
    night: NightAllowance | None, expected: set[CameraCondition]
) -> None:
    settings = HealthSettings(dark_after_s=1.0, blocked_after_s=1.0, night=night)
    monitor = HealthMonitor("cam1", settings, 0.0)

    for at in (0.0, 0.6, 1.2):
        monitor.on_frame(stats(brightness=6.0, contrast=1.0), at)

    assert monitor.active == expected


@pytest.mark.parametrize(
    ("start", "end", "moment", "covered"),
    [
        (time(21), time(6), time(23, 30), True),
        (time(21), time(6), time(5, 59), True),
        (time(21), time(6), time(6, 0), False),
        (time(21), time(6), time(12), False),
        (time(1), time(4), time(2), True),
        (time(1), time(4), time(0, 30), False),
    ],
)
def test_night_hours_may_span_midnight(start: time, end: time, moment: time, covered: bool) -> None:
    assert NightAllowance(start=start, end=end).covers(moment) is covered


def view_similarity(reference: np.ndarray, current: np.ndarray) -> float | None:
    gate = MotionGate(MotionSettings())
    return edge_similarity(edge_map(gate.prepare(reference)), edge_map(gate.prepare(current)))


def test_same_view_with_noise_and_a_passing_animal_stays_similar_to_the_reference() -> None:
    reference = textured_view(width=1280, height=720)
    current = moving_square(reference, 3, size=150)[1]

    similarity = view_similarity(reference, current)

    assert similarity is not None
    assert similarity > HealthSettings().moved_min_similarity + 0.2


@pytest.mark.parametrize("pan", [0.1, 0.2, -0.15])
def test_panned_view_is_unlike_the_reference(pan: float) -> None:
    reference = textured_view(width=1280, height=720)
    current = with_noise(shifted(reference, pan), 1)[0]

    similarity = view_similarity(reference, current)

    assert similarity is not None
    assert similarity < HealthSettings().moved_min_similarity


def test_featureless_views_cannot_be_compared() -> None:
    flat = np.full((720, 1280, 3), 128, np.uint8)

    assert view_similarity(flat, flat) is None


def test_backoff_doubles_up_to_the_maximum_with_jitter_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, jitter=0.2)

    delays = [backoff.next_delay() for _ in range(6)]
    backoff.reset()
    again = backoff.next_delay()

    for delay, base in zip(delays, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0], strict=True):
        assert base * 0.8 <= delay <= base * 1.2
    assert 0.4 <= again <= 0.6
