"""The motion gate, the detection schedule and the minimum inference rate, on synthetic input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from appliance.camera import InferReason, MotionSettings
from appliance.camera.motion import DetectSchedule, InferenceGate, MotionGate
from tests.appliance.camera.media import moving_square, textured_view, with_noise


def changed(frames: list[np.ndarray]) -> list[float]:
    gate = MotionGate(MotionSettings())
    prepared = [gate.prepare(f) for f in frames]
    return [gate.changed_fraction(a, b) for a, b in itertools.pairwise(prepared)]


def test_sensor_noise_is_not_motion() -> None:
    assert max(changed(with_noise(textured_view(1280, 720), 5, sigma=4.0))) == 0.0


def test_a_moving_object_is_motion() -> None:
    threshold = MotionSettings().min_changed_fraction
    assert min(changed(moving_square(textured_view(1280, 720), 8, size=60))) > threshold


def test_frames_of_another_size_count_as_all_changed() -> None:
    gate = MotionGate(MotionSettings())
    small, large = gate.prepare(textured_view(320, 240)), gate.prepare(textured_view(320, 180))

    assert gate.changed_fraction(small, large) == 1.0


@pytest.mark.parametrize(("source_fps", "jitter"), [(25.0, 0.0), (25.0, 0.01), (30.0, 0.005)])
def test_schedule_keeps_the_detection_rate_on_a_faster_jittery_stream(
    source_fps: float, jitter: float
) -> None:
    rng = np.random.default_rng(3)
    times = np.arange(0, 10, 1 / source_fps) + rng.uniform(-jitter, jitter, int(10 * source_fps))
    schedule = DetectSchedule(5.0)

    picked = [t for t in times if schedule.due(float(t))]

    assert len(picked) == pytest.approx(50, abs=1)
    assert max(np.diff(picked)) < 0.2 + 2 / source_fps


def test_schedule_takes_every_frame_of_a_slower_stream() -> None:
    schedule = DetectSchedule(5.0)

    assert all(schedule.due(t * 0.5) for t in range(20))


def test_gate_sends_motion_at_once_and_still_frames_at_the_minimum_rate() -> None:
    gate = InferenceGate(min_changed_fraction=0.01, min_interval_s=2.0)
    decisions = [
        gate.decide(motion, at)
        for at, motion in [(0.0, 0.0), (0.2, 0.0), (0.4, 0.5), (0.6, 0.0), (2.2, 0.0), (2.4, 0.0)]
    ]

    assert decisions == [
        InferReason.MIN_RATE,
        None,
        InferReason.MOTION,
        None,
        None,
        InferReason.MIN_RATE,
    ]
