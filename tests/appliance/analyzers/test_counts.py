"""The count rules (head-count drop, crowding) on composed scenes with a detector's mistakes:
a second box on one animal, an animal missed for a moment, an animal lost at the edge of the
view while still partly in it, and a crowd seen for a moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from appliance.analyzers.base import Analyzer, Scene
from appliance.analyzers.counts import CrowdingAnalyzer, CrowdingConfig, HeadcountConfig
from appliance.analyzers.registry import build
from appliance.analyzers.steady import Run
from appliance.scenes.truth import ObjectBox, SceneTruth
from appliance.vision.tracker import Box, Tracker, TrackerSettings
from appliance.vision.zones import ZoneConfig, ZoneMonitor, ZoneSettings
from contracts import FarmEventKind
from contracts.vision import Detection
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


# Scripted tracks: boxes (fractions of the frame) fed to the tracker at 5 fps; a pen over the
# left of the view, reaching its left edge; three cows that stand and a fourth that may go.
PEN = ZoneSettings(
    zones=[ZoneConfig(name="pen", kind="pen", points=[(0, 0.4), (0.7, 0.4), (0.7, 1), (0, 1)])]
)
STANDING: list[Box] = [(0.40, 0.42, 0.55, 0.62), (0.45, 0.68, 0.60, 0.88), (0.28, 0.70, 0.43, 0.90)]
COW: Box = (0.25, 0.42, 0.40, 0.62)  # the fourth cow where it stands at first
WALK_FROM_S = 5.0
WALK_OUT_LOST_S = 8.0  # walking left at 0.05 a second, its box is then 0.10 from the edge
STEP_S = 0.2
NOON = datetime(2026, 6, 1, 12, 0)
Boxes = Callable[[float], list[Box]]


def feed(boxes: Boxes, seconds: float = 40.0) -> tuple[Analyzer, list[Alert]]:
    """The head-count rule after the boxes the detector sees at each frame time, and what it
    reported."""
    tracker = Tracker(TrackerSettings(min_hits=2))  # as the camera pipeline runs it
    zones = ZoneMonitor(PEN, camera="cam")
    [analyzer] = build([HeadcountConfig(expected={"pen": 4}, hold_s=HOLD_S)], "cam")
    alerts = []
    for i in range(round(seconds / STEP_S)):
        t = round(i * STEP_S, 3)
        detections = [
            Detection(label="cow", class_id=0, score=0.9, x1=x1, y1=y1, x2=x2, y2=y2)
            for x1, y1, x2, y2 in boxes(t)
        ]
        update = tracker.update(detections, t)
        scene = Scene("cam", t, NOON, update, zones.update(update), zones, {"pen": "pen"})
        alerts += [Alert(t, f) for f in analyzer.observe(scene)]
    return analyzer, alerts


def play(boxes: Boxes, seconds: float = 40.0) -> list[Alert]:
    return feed(boxes, seconds)[1]


def fourth_cow(speed: float, lost_s: float) -> Boxes:
    """The fourth cow walks sideways from `WALK_FROM_S` at `speed` (frame widths a second;
    negative: toward the left edge of the view) and is not seen from `lost_s` on."""

    def boxes(t: float) -> list[Box]:
        dx = speed * max(0.0, t - WALK_FROM_S)
        cow = (COW[0] + dx, COW[1], COW[2] + dx, COW[3])
        return [*STANDING, cow] if t < lost_s else list(STANDING)

    return boxes


def test_a_cow_lost_walking_out_of_view_is_a_departure() -> None:
    # the detector loses it with its box 0.10 from the edge of the view, a body width short
    # of it and still inside the pen: it walked out of sight unseen
    lost_s = WALK_OUT_LOST_S
    last_seen = lost_s - STEP_S

    alerts = play(fourth_cow(speed=-0.05, lost_s=lost_s))

    assert alerts
    assert alerts[0].finding.event.attributes == {"seen": 3, "expected": 4}
    # it counts for `edge_s` after it was lost, then the drop holds for `hold_s`
    edge_s = HeadcountConfig(expected={}).edge_s
    assert last_seen + edge_s + HOLD_S <= alerts[0].t <= last_seen + edge_s + HOLD_S + 2 * STEP_S


def test_the_rule_asks_for_a_look_when_a_cow_walking_out_stops_counting() -> None:
    # nothing moves once it is lost, so the camera would infer a frame only every 2 s: the
    # rule asks for one as soon as the lost cow no longer counts, and the drop is timed from it
    lost_s = WALK_OUT_LOST_S
    edge_s = HeadcountConfig(expected={}).edge_s

    analyzer, _ = feed(fourth_cow(speed=-0.05, lost_s=lost_s), seconds=lost_s + 0.4)

    due = analyzer.due(lost_s + 0.2)
    assert due is not None
    assert lost_s - STEP_S + edge_s < due < lost_s + edge_s - STEP_S / 2


@pytest.mark.parametrize(
    ("speed", "lost_s"),
    [
        pytest.param(0.0, 8.0, id="standing"),
        pytest.param(-0.05, WALK_FROM_S + 1.0, id="walking-to-the-edge-far-from-it"),
    ],
)
def test_a_cow_lost_in_the_middle_of_the_pen_is_no_drop(speed: float, lost_s: float) -> None:
    # at night the detector stops seeing cows in the pen for long stretches; one with most
    # of the pen to cross is not walking out of sight either
    assert play(fourth_cow(speed, lost_s)) == []


def test_a_cow_lost_behind_another_near_the_edge_is_no_departure() -> None:
    # a cow grazes near the left edge of the view; the fourth cow steps left behind it (same
    # depth) and the detector sees one box for the two from then on: hidden, not gone
    near_edge = (0.02, 0.42, 0.17, 0.62)
    herd = [near_edge, *STANDING[1:]]
    walk = fourth_cow(speed=-0.05, lost_s=8.6)

    def boxes(t: float) -> list[Box]:
        return [*herd, *walk(t)[len(STANDING) :]]

    assert play(boxes) == []


def test_a_flickering_box_over_the_herd_is_no_departure() -> None:
    # on dark frames the detector now and then boxes the fourth cow and its neighbour as one
    # box, jumping left and right; then it stops seeing the fourth cow where it stands, last
    # in such a box that had jumped toward the edge of the view: a box over two cows is no
    # animal a body width from the edge
    over = [(0.22, 0.42, 0.55, 0.62), (0.10, 0.42, 0.43, 0.62)]

    def boxes(t: float) -> list[Box]:
        if t >= 18.5:
            return list(STANDING)
        if t >= 8.0 and t % 2 < 0.6:
            return [over[int(t // 2) % 2], *STANDING[1:]]
        return [*STANDING, COW]

    assert play(boxes) == []


def test_a_box_over_halves_of_two_cows_does_not_end_a_drop() -> None:
    # after the fourth cow walked out of sight the detector now and then also boxes the near
    # halves of the two front cows, standing side by side: that box is no fourth cow
    between = (0.36, 0.70, 0.52, 0.88)
    walk_out = fourth_cow(speed=-0.05, lost_s=WALK_OUT_LOST_S)

    def boxes(t: float) -> list[Box]:
        seen = walk_out(t)
        return [*seen, between] if t >= 9.0 and t % 3 < 0.5 else seen

    alerts = play(boxes)

    assert alerts
    edge_s = HeadcountConfig(expected={}).edge_s
    assert alerts[0].t <= WALK_OUT_LOST_S - STEP_S + edge_s + HOLD_S + 2 * STEP_S


def test_a_cow_boxed_as_a_row_of_heads_does_not_end_a_drop() -> None:
    # after the fourth cow walked out of sight, the detector now and then boxes the back cow
    # as three small boxes side by side (its head and the heads behind it): they are that
    # cow, not three more
    back = STANDING[0]
    heads = [(0.40, 0.42, 0.45, 0.50), (0.45, 0.42, 0.50, 0.50), (0.50, 0.42, 0.55, 0.50)]
    walk_out = fourth_cow(speed=-0.05, lost_s=WALK_OUT_LOST_S)

    lowered = (0.40, 0.42, 0.50, 0.56)  # its box follows its head down first

    def boxes(t: float) -> list[Box]:
        seen = walk_out(t)
        others = [b for b in seen if b != back]
        phase = (t - WALK_OUT_LOST_S) % 4
        if t < WALK_OUT_LOST_S + 1.0 or phase >= 2.4:
            return seen
        return [lowered, *others] if phase < 0.4 else [*heads, *others]

    alerts = play(boxes)

    assert alerts
    edge_s = HeadcountConfig(expected={}).edge_s
    assert alerts[0].t <= WALK_OUT_LOST_S - STEP_S + edge_s + HOLD_S + 2 * STEP_S


def test_a_head_box_bobbing_over_the_far_fence_is_no_departure() -> None:
    # at night only the head of a cow at the back of the pen is boxed; as it lifts its head
    # the box's bottom crosses the fence line by a little: the cow did not leave
    head = (0.20, 0.36, 0.26, 0.42)  # the pen's far fence is at 0.40

    def boxes(t: float) -> list[Box]:
        lift = 0.015 * min(max(t - WALK_FROM_S, 0.0), 2.0)
        return [*STANDING, (head[0], head[1] - lift, head[2], head[3] - lift)]

    assert play(boxes) == []


def test_a_track_matched_to_an_animal_outside_the_pen_is_no_departure() -> None:
    # at night the detector misses the fourth cow near the side of the pen for two seconds,
    # then boxes the horse grazing outside it, two body widths away: the tracker gives that
    # box the cow's track, which now stands outside the pen but did not walk there
    cow = (0.55, 0.45, 0.68, 0.62)
    horse = (0.80, 0.45, 0.93, 0.62)

    def boxes(t: float) -> list[Box]:
        if t < 8.0:
            return [*STANDING, cow]
        return list(STANDING) if t < 10.0 else [*STANDING, horse]

    assert play(boxes) == []


def test_a_cow_seen_again_cut_by_the_edge_of_the_view_walked_out() -> None:
    # the fourth cow walks to the left of the view; the detector misses it for 2.4 s, then
    # boxes the sliver of it still in view: that box's centre moved more than 1.5 of its cut
    # width (not of the cow's), and the cow walked, it did not jump
    def boxes(t: float) -> list[Box]:
        dx = -0.1 * max(0.0, t - WALK_FROM_S)
        if t < 5.8:
            return [*STANDING, (COW[0] + dx, COW[1], COW[2] + dx, COW[3])]
        if 8.2 <= t < 8.8:
            return [*STANDING, (0.0, COW[1], COW[2] + dx, COW[3])]
        return list(STANDING)

    alerts = play(boxes)

    assert alerts
    assert alerts[0].finding.event.attributes == {"seen": 3, "expected": 4}


Feet = Callable[[float], list[tuple[float, float]]]


def crowd_found_at(
    feet: Feet, times: list[float], hidden: Callable[[float, int], float] = lambda t, i: 0.0
) -> float | None:
    """When the crowding rule (more than 2 in the trough for 5 s) first reports, the cows'
    feet at each looked-at time being `feet(t)`, and the bottom `hidden(t, i)` of cow i's
    box not seen."""
    rule = CrowdingAnalyzer(CrowdingConfig(max_animals={"trough": 2}, hold_s=5.0), "cam")
    trough = ZoneConfig(
        name="trough", kind="trough", points=[(0, 0.4), (1, 0.4), (1, 0.7), (0, 0.7)]
    )
    zones = ZoneSettings(zones=[trough])  # two observations in a row to enter
    monitor, tracker = ZoneMonitor(zones, camera="cam"), Tracker(TrackerSettings(min_hits=1))
    for t in times:
        boxes = [
            Detection(
                label="cow",
                class_id=0,
                score=0.9,
                x1=x - 0.1,
                y1=y - 0.2,
                x2=x + 0.1,
                y2=y - hidden(t, i),
            )
            for i, (x, y) in enumerate(feet(t))
        ]
        update = tracker.update(boxes, t)
        scene = Scene("cam", t, NOON, update, monitor.update(update), monitor, {"trough": "trough"})
        if rule.observe(scene):
            return t
    return None


def test_a_crowd_is_timed_from_its_last_animal_first_seen_inside() -> None:
    def feet(t: float) -> list[tuple[float, float]]:  # the third cow steps in at 2.0 s
        return [(0.15, 0.6), (0.45, 0.6), (0.8, 0.6 if t >= 2.0 else 0.8)]

    found_at = crowd_found_at(feet, [i * 0.2 for i in range(60)])

    assert found_at == pytest.approx(7.0)  # 2.0 + hold, not 2.2 (the debounced entry) + hold


def test_a_crowd_is_timed_from_when_its_last_animal_crossed_in_between_two_looks() -> None:
    # the third cow walks into the trough at 0.1 a second and crosses its edge (y 0.7) at
    # 2.0 s; the pipeline looked at 1.8 s (outside) and next at 2.4 s (inside)
    def feet(t: float) -> list[tuple[float, float]]:
        return [(0.15, 0.6), (0.45, 0.6), (0.8, max(0.9 - 0.1 * t, 0.6))]

    times = [0.0, 0.6, 1.2, 1.8, *(round(2.4 + 0.2 * i, 3) for i in range(40))]
    found_at = crowd_found_at(feet, times)

    assert found_at == pytest.approx(7.0)  # 2.0 + hold; not 2.4 (first seen inside) + hold


def test_a_crowd_is_timed_from_a_later_better_look_at_its_last_animal_crossing_in() -> None:
    # the third cow crosses the trough's edge (y 0.7) at 2.0 s; on the first two looks inside
    # the trough's wall hides its legs (its box ends 0.1 short), so those looks cannot place
    # the crossing; the next look sees it whole and places it between 1.8 s and 2.4 s
    def feet(t: float) -> list[tuple[float, float]]:
        return [(0.15, 0.6), (0.45, 0.6), (0.8, max(0.9 - 0.1 * t, 0.6))]

    def legs_hidden(t: float, cow: int) -> float:
        return 0.1 if cow == 2 and 2.4 <= t < 2.8 else 0.0

    times = [0.0, 0.6, 1.2, 1.8, *(round(2.4 + 0.2 * i, 3) for i in range(40))]
    found_at = crowd_found_at(feet, times, legs_hidden)

    assert found_at == pytest.approx(7.0)  # about 2.0 + hold; not 2.4 + hold


def test_a_crowd_is_timed_from_a_crossing_between_two_looks_two_seconds_apart() -> None:
    # nothing else moves, so the camera looks only every 2 s: the third cow, walking in at
    # 0.05 a second, is seen outside at 1.0 s and inside at 3.0 s; it crossed at 2.0 s
    def feet(t: float) -> list[tuple[float, float]]:
        return [(0.15, 0.6), (0.45, 0.6), (0.8, max(0.8 - 0.05 * t, 0.6))]

    times = [0.0, 1.0, *(round(3.0 + 0.2 * i, 3) for i in range(40))]
    found_at = crowd_found_at(feet, times)

    # timed from 2.2 s: the crossing, but at most BACKDATE_S before the look (3.2 s, the zone's
    # second look) that first saw the crowd; not from 3.0 s (first seen inside)
    assert found_at == pytest.approx(7.2)
