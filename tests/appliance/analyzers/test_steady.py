"""The helpers that make analyzers robust to a flickering detector."""

from __future__ import annotations

import pytest

from appliance.analyzers.steady import Run, covered, edge_distance, hold_end, inside, iou, whole
from appliance.vision.tracker import Track, TrackerSettings
from contracts.vision import Detection

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


def track(track_id: int, box: tuple[float, float, float, float], label: str = "cow") -> Track:
    x1, y1, x2, y2 = box
    detection = Detection(label=label, class_id=0, score=0.9, x1=x1, y1=y1, x2=x2, y2=y2)
    return Track(track_id, detection, 0.0, TrackerSettings())


def test_run_starts_at_its_first_frame_and_bridges_short_breaks() -> None:
    run = Run(gap_s=1.0)
    assert run.update(0.0, False) is None
    assert run.update(0.2, True) == 0.2
    assert run.update(0.4, True) == 0.2
    assert run.update(1.2, False) == 0.2  # broken for 0.8 s: bridged
    assert run.update(1.4, True) == 0.2
    assert run.update(2.6, False) is None  # broken for 1.2 s: over
    assert run.update(2.8, True) == 2.8


def test_run_without_gap_ends_on_the_first_frame_without_the_condition() -> None:
    run = Run(gap_s=0.0)
    assert run.update(0.0, True) == 0.0
    assert run.update(0.2, True) == 0.0
    assert run.update(0.4, False) is None
    assert run.update(0.6, True) == 0.6


def test_a_box_inside_a_bigger_one_of_the_same_label_is_a_part() -> None:
    cow = track(1, (0.1, 0.1, 0.5, 0.5))
    head = track(2, (0.1, 0.1, 0.25, 0.3))
    dog = track(3, (0.1, 0.1, 0.25, 0.3), label="dog")
    neighbour = track(4, (0.45, 0.1, 0.85, 0.5))  # overlaps the cow a little
    assert [t.id for t in whole([cow, head, dog, neighbour])] == [1, 3, 4]


def test_box_geometry() -> None:
    assert covered((0.0, 0.0, 0.2, 0.2), (0.1, 0.0, 0.5, 0.5)) == pytest.approx(0.5)
    assert iou((0.0, 0.0, 0.2, 0.2), (0.1, 0.0, 0.3, 0.2)) == pytest.approx(1 / 3)
    assert iou((0.0, 0.0, 0.1, 0.1), (0.5, 0.5, 0.6, 0.6)) == 0.0


def test_point_against_a_polygon() -> None:
    assert inside((0.5, 0.5), SQUARE)
    assert not inside((1.2, 0.5), SQUARE)
    assert edge_distance((1.2, 0.5), SQUARE) == pytest.approx(0.2)
    assert edge_distance((0.5, 0.9), SQUARE) == pytest.approx(0.1)
    assert edge_distance((1.3, 1.4), SQUARE) == pytest.approx(0.5)


def test_hold_end_is_the_earliest_end_still_ahead() -> None:
    started_early, started_late, idle = Run(0.0), Run(0.0), Run(0.0)
    started_early.update(1.0, True)
    started_late.update(4.0, True)
    idle.update(4.0, False)

    assert hold_end([started_early, started_late, idle], 5.0, 4.0) == 6.0
    assert hold_end([started_early, started_late, idle], 5.0, 6.0) == 9.0  # 6.0 is not ahead
    assert hold_end([idle], 5.0, 4.0) is None
