"""Zones: validated polygons, membership per track with debounce, enter/exit events, counts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from appliance.scenes.truth import SceneTruth, Zone
from appliance.vision import (
    Tracker,
    TrackerSettings,
    ZoneConfig,
    ZoneConfigError,
    ZoneMonitor,
    ZoneSettings,
    load_zone_settings,
)
from appliance.vision.zones import zones_of_scene
from contracts.vision import Detection
from tests.appliance.vision.factories import make_box, make_detection

FPS = 5.0
PEN = ZoneConfig(
    name="north pen", kind="pen", points=[(0.1, 0.2), (0.5, 0.2), (0.5, 0.8), (0.1, 0.8)]
)
ROAD = ZoneConfig(name="road", kind="road", points=[(0.6, 0.0), (1.0, 0.0), (1.0, 1.0), (0.6, 1.0)])


def run(
    frames: list[list[Detection]], zones: ZoneSettings, min_hits: int = 1
) -> tuple[ZoneMonitor, list[tuple[str, str, str, int]]]:
    """Track frames (5 fps) through a zone monitor; events as (transition, cause, zone, frame)."""
    tracker = Tracker(TrackerSettings(min_hits=min_hits))
    monitor = ZoneMonitor(zones, camera="cam-1")
    events: list[tuple[str, str, str, int]] = []
    for i, dets in enumerate(frames):
        for e in monitor.update(tracker.update(dets, i / FPS)):
            events.append((e.transition, e.cause, e.zone, round(e.t * FPS)))
    return monitor, events


def cow_feet_at(x: float, y: float = 0.5) -> Detection:
    return make_detection("cow", x, y - 0.04, w=0.1, h=0.08)


def test_cow_walking_out_of_its_pen_exits_it_and_enters_the_road() -> None:
    xs = [0.3, 0.33, 0.36, 0.39, 0.42, 0.45, 0.48, 0.51, 0.54, 0.57, 0.6, 0.63, 0.66]
    monitor, events = run([[cow_feet_at(x)] for x in xs], ZoneSettings(zones=[PEN, ROAD]), 3)
    assert events == [
        ("enter", "appeared", "north pen", 2),  # confirmed on its third frame
        ("exit", "moved", "north pen", 8),  # outside from frame 7 (x=0.51), confirmed on 8
        ("enter", "moved", "road", 11),  # inside from frame 10 (x=0.60), confirmed on 11
    ]
    assert monitor.counts() == {"north pen": {}, "road": {"cow": 1}}


def test_exit_event_says_when_the_animal_first_stood_outside() -> None:
    frames = [[cow_feet_at(x)] for x in (0.4, 0.45, 0.52, 0.55, 0.58)]
    tracker, monitor = Tracker(TrackerSettings(min_hits=1)), ZoneMonitor(ZoneSettings(zones=[PEN]))
    events = [e for i, dets in enumerate(frames) for e in monitor.update(tracker.update(dets, i))]
    exit_event = events[-1]
    assert (exit_event.transition, exit_event.since, exit_event.t) == ("exit", 2, 3)
    assert exit_event.zone_kind == "pen"
    assert exit_event.point == pytest.approx((0.55, 0.5))


@pytest.mark.parametrize(
    ("debounce_frames", "expected"),
    [
        (1, [("exit", 1), ("enter", 2), ("exit", 3)]),
        (2, [("exit", 4)]),
        (3, [("exit", 5)]),
    ],
)
def test_a_box_jittering_on_the_fence_changes_zone_only_after_debounce(
    debounce_frames: int, expected: list[tuple[str, int]]
) -> None:
    xs = [0.48, 0.52, 0.48, 0.52, 0.52, 0.52]  # feet either side of the pen edge at x=0.5
    zones = ZoneSettings(zones=[PEN], debounce_frames=debounce_frames)
    _, events = run([[cow_feet_at(x)] for x in xs], zones)
    assert [(t, frame) for t, cause, _, frame in events if cause == "moved"] == expected


def test_debounce_in_seconds_waits_for_the_change_to_last() -> None:
    xs = [0.4, 0.46] + [0.52] * 8
    zones = ZoneSettings(zones=[PEN], debounce_frames=1, debounce_s=1.0)
    _, events = run([[cow_feet_at(x)] for x in xs], zones)
    assert events[1:] == [("exit", "moved", "north pen", 7)]  # outside from frame 2, +1 s


@pytest.mark.parametrize(("anchor", "members"), [("bottom_center", [1]), ("center", [])])
def test_zone_membership_uses_the_configured_anchor_point(anchor: str, members: list[int]) -> None:
    # a tall box whose feet are in the pen and whose centre is above it
    box = make_box(0.25, 0.05, 0.35, 0.3, "person")
    monitor, _ = run([[box]], ZoneSettings(zones=[PEN], anchor=anchor))  # type: ignore[arg-type]
    assert monitor.members("north pen") == members


def test_counts_per_zone_per_class() -> None:
    frame = [
        cow_feet_at(0.2),
        cow_feet_at(0.4, y=0.7),
        make_detection("sheep", 0.3, 0.3),
        make_detection("person", 0.8, 0.5, w=0.05, h=0.2),
        make_detection("dog", 0.55, 0.5),  # between the zones
    ]
    monitor, _ = run([frame, frame], ZoneSettings(zones=[PEN, ROAD]))
    assert monitor.counts() == {"north pen": {"cow": 2, "sheep": 1}, "road": {"person": 1}}
    assert monitor.zones_of(5) == frozenset()


def test_lost_track_keeps_its_zone_until_it_is_removed() -> None:
    frames = [[cow_feet_at(0.3)]] * 3 + [[]] * 10
    tracker = Tracker(TrackerSettings(min_hits=1, max_age_s=1.0))
    monitor = ZoneMonitor(ZoneSettings(zones=[PEN]))
    counts, events = [], []
    for i, dets in enumerate(frames):
        events += monitor.update(tracker.update(dets, i / FPS))
        counts.append(monitor.counts()["north pen"].get("cow", 0))
    assert counts == [1] * 8 + [0] * 5  # last seen at 0.4 s, removed once unseen > 1 s
    assert [(e.transition, e.cause) for e in events] == [
        ("enter", "appeared"),
        ("exit", "removed"),
    ]


def test_tentative_tracks_are_not_placed_in_zones() -> None:
    monitor, events = run([[cow_feet_at(0.3)]] * 2, ZoneSettings(zones=[PEN]), min_hits=3)
    assert (events, monitor.counts()) == ([], {"north pen": {}})


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ({"points": [(0.1, 0.1), (0.5, 0.5)]}, "zone 'north pen': polygon needs at least 3"),
        (
            {"points": [(0.1, 0.1), (1.2, 0.1), (0.5, 0.5)]},
            r"zone 'north pen': points \[1\] are outside the frame",
        ),
        (
            {"points": [(0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)]},
            "zone 'north pen': polygon edges 0-1 and 2-3 cross",
        ),
        ({"kind": "pigsty"}, r"zones\['north pen'\]\.kind: Input should be"),
        ({"colour": "red"}, r"zones\['north pen'\]\.colour: Extra inputs"),
    ],
    ids=["too-few-points", "outside-frame", "self-intersecting", "unknown-kind", "unknown-key"],
)
def test_invalid_zone_is_refused_with_an_error_naming_it(
    zone: dict[str, object], message: str
) -> None:
    raw = {"name": "north pen", "kind": "pen", "points": PEN.points} | zone
    with pytest.raises(ZoneConfigError, match=message):
        load_zone_settings({"zones": [raw]})


def test_duplicate_zone_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="zone 'north pen' is defined twice"):
        ZoneSettings(zones=[PEN, PEN])


def test_every_zone_kind_is_accepted() -> None:
    kinds = ["pasture", "pen", "trough", "gate", "road", "restricted", "calving_pen"]
    zones = [{"name": k, "kind": k, "points": PEN.points} for k in kinds]
    assert [z.kind for z in load_zone_settings({"zones": zones}).zones] == kinds


def test_scene_zones_become_frame_unit_zone_settings() -> None:
    truth = SceneTruth(
        scene="s",
        seed=0,
        night=False,
        video="v.mp4",
        fps=5.0,
        width=200,
        height=100,
        frame_count=1,
        tracks=[],
        zones=[Zone(name="pen", kind="pen", polygon=[(0, 0), (100, 0), (100, 50)])],
        conditions=[],
        frames=[],
    )
    zones = zones_of_scene(truth).zones
    assert [(z.name, z.kind) for z in zones] == [("pen", "pen")]
    assert zones[0].points == [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5)]


def test_entered_at_is_the_first_frame_inside_not_the_debounced_one() -> None:
    xs = [0.62, 0.58, 0.54, 0.48, 0.45, 0.42]  # from the road into the pen on frame 3
    monitor, events = run([[cow_feet_at(x)] for x in xs], ZoneSettings(zones=[PEN, ROAD]))
    assert ("enter", "moved", "north pen", 4) in events  # confirmed on frame 4
    [track_id] = monitor.members("north pen")
    assert monitor.entered_at(track_id, "north pen") == pytest.approx(3 / FPS)
    assert monitor.entered_at(track_id, "road") is None  # left it
