"""The count rules (head-count drop, crowding) on composed scenes with a detector's mistakes:
a second box on one animal, an animal missed for a moment, an animal lost at the edge of the
view while still partly in it, and a crowd seen for a moment."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.analyzers.rules import HeadcountConfig
from appliance.analyzers.steady import Run
from appliance.scenes.truth import ObjectBox, SceneTruth
from contracts import FarmEventKind
from tests.appliance.analyzers.replay import Alert, Edit, make_scene, replay

HOLD_S = 5.0


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenes")


@pytest.fixture(scope="module")
def drop(scenes: Path) -> SceneTruth:
    return make_scene("headcount_drop", scenes, seconds=40)


def front_cow(truth: SceneTruth) -> int:
    """The cow that stays, nearest the camera (its box is never a part of another's)."""
    [condition] = truth.conditions
    cows = [o for o in truth.frames[0].objects if o.track_id != condition.track_id]
    return max(cows, key=lambda o: o.bbox[3]).track_id


def second_box(track_id: int) -> Edit:
    """The detector also boxes most of the animal again, shifted a little."""

    def edit(t: float, objects: list[ObjectBox]) -> list[ObjectBox]:
        out = list(objects)
        for o in objects:
            if o.track_id == track_id:
                x1, y1, x2, y2 = o.bbox
                width = x2 - x1
                box = (x1 + round(0.3 * width), y1, x2 + round(0.25 * width), y2)
                out.append(o.model_copy(update={"track_id": 99, "bbox": box}))
        return out

    return edit


def hidden(track_id: int, start: float, end: float) -> Edit:
    def edit(t: float, objects: list[ObjectBox]) -> list[ObjectBox]:
        return [o for o in objects if not (o.track_id == track_id and start <= t < end)]

    return edit


def latency(alerts: list[Alert], truth: SceneTruth, hold_s: float) -> float:
    """Seconds from when the rule can first report the scene's condition to its first alert."""
    [condition] = truth.conditions
    assert {a.finding.event.kind for a in alerts} == {FarmEventKind(condition.condition)}
    return alerts[0].t - (condition.start_s + hold_s)


def test_headcount_drop_is_due_when_the_cow_is_out_of_sight_not_when_it_is_lost(
    drop: SceneTruth,
) -> None:
    # the detector loses the leaving cow while it is still partly in view, at the edge
    alerts = replay(drop, [HeadcountConfig(expected={"pen": 4}, hold_s=HOLD_S)])
    assert -0.2 <= latency(alerts, drop, HOLD_S) <= 1.0


def test_a_second_box_on_one_cow_does_not_hide_a_headcount_drop(drop: SceneTruth) -> None:
    config = HeadcountConfig(expected={"pen": 4}, hold_s=HOLD_S)
    alerts = replay(drop, [config], edit=second_box(front_cow(drop)))
    assert -0.2 <= latency(alerts, drop, HOLD_S) <= 1.0


def test_a_cow_missed_for_a_moment_inside_the_pen_is_no_drop(drop: SceneTruth) -> None:
    [condition] = drop.conditions
    config = HeadcountConfig(expected={"pen": 4}, hold_s=1.0)
    missed = hidden(front_cow(drop), 6.0, 8.5)  # the tracker keeps it lost meanwhile

    alerts = replay(drop, [config], edit=missed)

    assert alerts
    assert min(a.t for a in alerts) >= condition.start_s + 1.0


def test_a_crowd_seen_for_a_moment_does_not_start_crowding_early() -> None:
    run = Run(gap_s=4.0, proven=True)
    assert run.update(10.0, True) == 10.0  # a second box on one cow, for a frame
    assert run.update(10.2, False) is None  # no crowd before it to bridge
    assert run.update(12.0, True) == 12.0  # the crowd really starts
    assert run.update(16.0, True) == 12.0
    assert run.update(18.0, False) == 12.0  # a cow hidden by the others: bridged
    assert run.update(20.0, False) == 12.0
    assert run.update(20.4, False) is None  # more than the gap


def test_a_cow_the_detector_stops_seeing_in_the_pen_is_no_drop(scenes: Path) -> None:
    # at night the detector loses cows in the middle of the pen for long stretches: nobody
    # is seen leaving, so the count falling is no drop
    herd = make_scene("herd_grazing", scenes, seconds=40)
    cows = [o for o in herd.frames[0].objects if o.label == "cow"]
    middle = min(cows, key=lambda o: abs((o.bbox[0] + o.bbox[2]) / 2 - herd.width / 2))
    vanished = hidden(middle.track_id, 6.0, 40.0)

    strict = HeadcountConfig(expected={"pen": 3}, labels=["cow"], hold_s=HOLD_S)
    assert replay(herd, [strict], edit=vanished) == []
    # the same frames without the rule's departure check: a false drop
    loose = strict.model_copy(update={"needs_departure": False})
    assert replay(herd, [loose], edit=vanished)


def test_a_cow_seen_walking_out_of_view_is_a_departure(drop: SceneTruth) -> None:
    config = HeadcountConfig(expected={"pen": 4}, hold_s=HOLD_S)
    alerts = replay(drop, [config])
    assert alerts
    assert alerts[0].finding.event.attributes == {"seen": 3, "expected": 4}
