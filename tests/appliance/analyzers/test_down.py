"""Animal down: lying is timed from when the animal lay down, whatever its boxes do later."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from appliance.analyzers.base import Finding, Scene
from appliance.analyzers.down import AnimalDownAnalyzer, AnimalDownConfig
from appliance.vision.tracker import Box, Tracker, TrackerSettings
from appliance.vision.zones import ZoneMonitor, ZoneSettings
from contracts.vision import Detection

FPS = 5.0
LEFT, RIGHT, BOTTOM = 0.3, 0.7, 0.7
STANDING = 0.2  # box height of the standing cow
LYING = 0.12  # box height once it lies (0.6 of standing)
DOWN_AT = 10.0  # starts lying down; down for good 1.5 s later
DUE = DOWN_AT + 1.5 + 10.0  # lying 10 s
NOON = datetime(2026, 6, 1, 12)

Boxes = Callable[[float], list[Box]]


def height(t: float) -> float:
    """A cow that stands, then lies down over 1.5 s at DOWN_AT and stays down."""
    done = min(max((t - DOWN_AT) / 1.5, 0.0), 1.0)
    return STANDING - (STANDING - LYING) * done


def cow(h: float, left: float = LEFT, right: float = RIGHT, bottom: float = BOTTOM) -> Box:
    return (left, bottom - h, right, bottom)


def lies_down(t: float) -> list[Box]:
    return [cow(height(t))]


def feed(boxes: Boxes, seconds: float) -> tuple[AnimalDownAnalyzer, list[tuple[float, Finding]]]:
    """What the detector boxes at t is `boxes(t)`; the rule (lying 10 s) and its reports, timed."""
    analyzer = AnimalDownAnalyzer(AnimalDownConfig(lying_s=10.0), "cam")
    tracker = Tracker(TrackerSettings(min_hits=2))
    monitor = ZoneMonitor(ZoneSettings(), camera="cam")
    reports = []
    for frame in range(round(seconds * FPS)):
        t = frame / FPS
        detections = [
            Detection(label="cow", class_id=0, score=0.9, x1=x1, y1=y1, x2=x2, y2=y2)
            for x1, y1, x2, y2 in boxes(t)
        ]
        update = tracker.update(detections, t)
        scene = Scene("cam", t, NOON, update, monitor.update(update), monitor, {})
        reports += [(t, finding) for finding in analyzer.observe(scene)]
    return analyzer, reports


def play(boxes: Boxes, seconds: float) -> list[tuple[float, Finding]]:
    return feed(boxes, seconds)[1]


def test_lying_is_timed_from_when_the_cow_has_lain_down() -> None:
    reports = play(lies_down, 30.0)

    assert reports
    first, finding = reports[0]
    assert 0.0 <= first - DUE <= 0.5
    assert finding.event.attributes["lying"] is True
    assert finding.event.summary == "Cow lying for 10 s"


def test_a_lower_box_long_after_it_lay_down_does_not_restart_the_clock() -> None:
    def flickers(t: float) -> list[Box]:  # a part box of the lying cow, two frames
        return [cow(0.09)] if 15.0 <= t < 15.4 else lies_down(t)

    reports = play(flickers, 30.0)

    assert reports
    assert 0.0 <= reports[0][0] - DUE <= 0.5


def test_a_cow_standing_still_is_not_down_while_it_stands() -> None:
    assert play(lambda t: [cow(STANDING)], 60.0) == []


def test_a_cow_hidden_up_to_its_back_behind_another_is_not_lying() -> None:
    def hidden(t: float) -> list[Box]:  # from 10 s on, a cow in front hides legs and belly
        if t < DOWN_AT:
            return [cow(STANDING)]
        return [cow(STANDING - 0.06, bottom=BOTTOM - 0.06)]

    assert play(hidden, 40.0) == []


NEIGHBOUR = cow(STANDING, left=0.05, right=0.25)  # standing still beside it, at its depth


def test_a_cow_lost_while_lying_down_is_judged_by_the_cows_standing_at_its_depth() -> None:
    # the tracker loses it as its box shrinks and boxes it again, lying a step further on,
    # under a new id (here: after its lost track was dropped): its new spot never saw it
    # stand; the cows seen standing at that depth (itself before, its neighbour) tell its height
    back = DOWN_AT + 11.0

    def lost(t: float) -> list[Box]:
        if t < DOWN_AT:
            return [NEIGHBOUR, cow(STANDING)]
        if t < back:
            return [NEIGHBOUR]
        return [NEIGHBOUR, cow(LYING, left=LEFT + 0.08, right=RIGHT + 0.08)]

    reports = play(lost, 35.0)

    assert reports
    assert all(finding.event.attributes["lying"] for _, finding in reports)
    # lying from its first frame back in view (the tracker's two hits to confirm: 0.2 s)
    assert 0.0 <= reports[0][0] - (back + 10.0) <= 0.5


def test_where_it_lies_is_where_its_box_settled() -> None:
    # its box slides sideways while it lies down; a later wobble of the settled box is no
    # step off the spot (the clock would start again)
    def slides(t: float) -> list[Box]:
        shift = 0.05 * min(max((t - DOWN_AT) / 1.5, 0.0), 1.0) + (0.012 if 15.0 <= t < 15.2 else 0)
        return [cow(height(t), left=LEFT + shift, right=RIGHT + shift)]

    reports = play(slides, 30.0)

    assert reports
    assert 0.0 <= reports[0][0] - DUE <= 0.5


def test_a_short_box_ending_on_a_nearer_animal_is_not_lying() -> None:
    front = (LEFT - 0.05, 0.55, RIGHT + 0.05, BOTTOM + 0.1)  # a nearer cow

    def behind(t: float) -> list[Box]:
        if t < 10.0:
            return [NEIGHBOUR]
        # a cow behind it, first seen from now on: its top only, as far down as the cow in
        # front; half the height of a cow standing at that depth
        return [NEIGHBOUR, front, cow(STANDING / 2, left=LEFT + 0.05, right=RIGHT - 0.05)]

    assert play(behind, 40.0) == []


def test_the_end_of_a_lying_hold_is_due_for_a_look() -> None:
    analyzer, _ = feed(lies_down, 15.0)

    due = analyzer.due(15.0)

    assert due is not None
    assert DUE - 0.5 <= due <= DUE
