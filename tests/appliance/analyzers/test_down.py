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


def play(boxes: Boxes, seconds: float) -> list[tuple[float, Finding]]:
    """What the detector boxes at t is `boxes(t)`; the reports (lying 10 s), timed."""
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
    return reports


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
