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


def creeping_square(steps: int) -> list[np.ndarray]:
    """A faint square that moves 1 px of the 160 px gate view per frame: too little to count
    as motion from one frame to the next."""
    frames = []
    for i in range(steps):
        image = np.full((360, 640, 3), 180, np.uint8)
        x = 100 + 4 * i  # 640 px -> 160 px: 1 px of the gate's view per step
        image[150:210, x : x + 60] = 130
        frames.append(image)
    return frames


def test_a_slow_walker_is_sent_once_it_moved_from_the_last_inferred_frame() -> None:
    motion = MotionGate(MotionSettings())
    threshold = MotionSettings().min_changed_fraction
    prepared = [motion.prepare(f) for f in creeping_square(8)]
    steps = [motion.changed_fraction(a, b) for a, b in itertools.pairwise(prepared)]
    assert max(steps) < threshold  # frame to frame it hardly moves

    with_reference = InferenceGate(threshold, 60.0, motion)
    frame_to_frame = InferenceGate(threshold, 60.0)
    picked = []
    for gate in (with_reference, frame_to_frame):
        previous = None
        reasons = []
        for i, view in enumerate(prepared):
            fraction = 0.0 if previous is None else motion.changed_fraction(previous, view)
            reasons.append(gate.decide(fraction, i * 0.2, view))
            previous = view
        picked.append(reasons)

    assert picked[0][0] is InferReason.MIN_RATE
    assert InferReason.MOTION in picked[0][1:4]  # within 3 looked-at frames of the last one
    assert picked[1][1:] == [None] * 7


def test_a_requested_moment_is_inferred_even_when_nothing_moves() -> None:
    gate = InferenceGate(min_changed_fraction=0.01, min_interval_s=2.0)
    assert gate.decide(0.0, 0.0) is InferReason.MIN_RATE
    gate.request(0.5)
    gate.request(0.9)  # a later request does not push the earlier one back

    reasons = [gate.decide(0.0, at) for at in (0.2, 0.4, 0.6, 0.8, 1.0)]

    assert reasons == [None, None, InferReason.DUE, None, None]
