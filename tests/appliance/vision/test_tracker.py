"""Tracker: stable ids across frames, occlusion, classes, stillness, variable frame rates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.vision import Tracker, TrackerError, TrackerSettings, TrackerUpdate, TrackState
from contracts.vision import Detection
from tests.appliance.vision.factories import make_box, make_detection

FPS = 5.0


def id_near(update: TrackerUpdate, x: float, y: float) -> int:
    """Id of the seen (confirmed) track whose centre is closest to (x, y)."""
    track = min(update.confirmed, key=lambda tr: np.hypot(tr.centre[0] - x, tr.centre[1] - y))
    return track.id


def walk(x0: float, speed: float, t: float, y: float = 0.5) -> tuple[float, float]:
    return x0 + speed * t, y


def crossing_frame(
    i: int, both_seen_while_overlapping: bool
) -> tuple[list[Detection], list[tuple[float, float]]]:
    """Cow a walks right in front, cow b walks left behind it; positions and detections."""
    t = i / FPS
    a = walk(0.2, 0.2, t, y=0.50)  # a box width per half second: too fast to match unpredicted
    b = walk(0.8, -0.2, t, y=0.53)
    b_visible = both_seen_while_overlapping or abs(a[0] - b[0]) >= 0.1
    dets = [make_detection("cow", *a)] + [make_detection("cow", *b)] * b_visible
    return dets, [a, b]


@pytest.mark.parametrize("both_seen_while_overlapping", [True, False])
def test_crossing_objects_keep_their_ids(both_seen_while_overlapping: bool) -> None:
    tracker = Tracker()
    for i in range(4):
        dets, (a, b) = crossing_frame(i, both_seen_while_overlapping)
        update = tracker.update(dets, i / FPS)
    ids_before = (id_near(update, *a), id_near(update, *b))
    for i in range(4, 20):
        dets, (a, b) = crossing_frame(i, both_seen_while_overlapping)
        update = tracker.update(dets, i / FPS)
    assert (a[0] > 0.75, b[0] < 0.25) == (True, True)  # they have passed each other
    assert (id_near(update, *a), id_near(update, *b)) == ids_before
    assert len(set(ids_before)) == 2
    assert {tr.id for tr in tracker.tracks} == set(ids_before)


@pytest.mark.parametrize("hidden_frames", [1, 3, 6])
def test_hidden_object_keeps_its_id_when_it_reappears_nearby(hidden_frames: int) -> None:
    tracker = Tracker()
    speed = 0.1
    for i in range(5):
        update = tracker.update([make_detection("sheep", *walk(0.2, speed, i / FPS))], i / FPS)
    first_id = update.confirmed[0].id
    for i in range(5, 5 + hidden_frames):
        update = tracker.update([], i / FPS)
        assert [tr.id for tr in update.lost] == [first_id]
    t = (5 + hidden_frames) / FPS
    update = tracker.update([make_detection("sheep", *walk(0.2, speed, t))], t)
    assert [tr.id for tr in update.confirmed] == [first_id]
    assert update.confirmed[0].reacquired == 1
    assert update.confirmed[0].state is TrackState.CONFIRMED


def test_object_reappearing_far_from_its_prediction_gets_a_new_id() -> None:
    tracker = Tracker()
    for i in range(5):
        update = tracker.update([make_detection("cow", 0.2, 0.5)], i / FPS)
    old_id = update.confirmed[0].id
    tracker.update([], 1.0)
    update = tracker.update([make_detection("cow", 0.7, 0.5)], 1.2)
    assert [tr.id for tr in update.tentative] == [old_id + 1]
    assert [tr.id for tr in update.lost] == [old_id]


def test_lost_track_is_removed_after_max_age_and_a_return_gets_a_new_id() -> None:
    tracker = Tracker(TrackerSettings(max_age_s=1.0))
    for i in range(4):
        update = tracker.update([make_detection("cow")], i / FPS)
    old_id = update.confirmed[0].id
    assert [tr.id for tr in tracker.update([], 1.0).lost] == [old_id]
    assert [tr.id for tr in tracker.update([], 1.7).removed] == [old_id]
    update = tracker.update([make_detection("cow")], 1.9)
    assert [tr.id for tr in update.tentative] == [old_id + 1]


def test_lost_track_is_removed_after_max_missed_frames() -> None:
    tracker = Tracker(TrackerSettings(max_misses=2, max_age_s=60.0))
    for i in range(4):
        tracker.update([make_detection("cow")], i / FPS)
    states = [len(tracker.update([], (4 + k) / FPS).removed) for k in range(3)]
    assert states == [0, 0, 1]
    assert tracker.tracks == []


def test_different_class_in_the_same_place_never_takes_over_a_track() -> None:
    tracker = Tracker()
    for i in range(5):
        update = tracker.update([make_detection("cow", 0.4, 0.6)], i / FPS)
    cow_id = update.confirmed[0].id
    update = tracker.update([make_detection("person", 0.4, 0.6)], 5 / FPS)
    assert [tr.id for tr in update.lost] == [cow_id]
    assert [(tr.label, tr.id != cow_id) for tr in update.tentative] == [("person", True)]
    assert {tr.id: tr.label for tr in tracker.tracks}[cow_id] == "cow"


def test_overlapping_objects_of_two_classes_keep_separate_tracks() -> None:
    tracker = Tracker(TrackerSettings(min_hits=1))
    labels_by_id: dict[int, set[str]] = {}
    for i in range(20):
        t = i / FPS
        dets = [make_detection("cow", 0.3 + 0.02 * i, 0.5), make_detection("dog", 0.7 - 0.02 * i)]
        for tr in tracker.update(dets, t).confirmed:
            labels_by_id.setdefault(tr.id, set()).add(tr.label)
    assert labels_by_id == {1: {"cow"}, 2: {"dog"}}


def test_new_track_is_confirmed_after_min_hits() -> None:
    tracker = Tracker(TrackerSettings(min_hits=3))
    states = []
    for i in range(4):
        tracker.update([make_detection()], i / FPS)
        states.append(tracker.tracks[0].state)
    tentative, confirmed = TrackState.TENTATIVE, TrackState.CONFIRMED
    assert states == [tentative, tentative, confirmed, confirmed]


@pytest.mark.parametrize(("max_misses", "removed_after"), [(0, 1), (1, 2), (3, 4)])
def test_unconfirmed_track_is_dropped_after_its_misses(max_misses: int, removed_after: int) -> None:
    tracker = Tracker(TrackerSettings(min_hits=5, tentative_max_misses=max_misses))
    tracker.update([make_detection()], 0.0)
    removed = [len(tracker.update([], (k + 1) / FPS).removed) for k in range(removed_after)]
    assert removed == [0] * (removed_after - 1) + [1]


def test_stationary_duration_grows_while_still_and_resets_when_it_moves() -> None:
    rng = np.random.default_rng(3)
    tracker = Tracker()
    durations = []
    for i in range(100):  # 20 s at 5 fps: still, walks away, still again
        t = i / FPS
        x = 0.3 + min(max(i - 50, 0), 10) * 0.04
        jx, jy = rng.normal(0.0, 0.002, size=2)
        update = tracker.update([make_detection("cow", x + jx, 0.5 + jy)], t)
        durations.append(update.confirmed[0].stationary_s if update.confirmed else 0.0)
    assert durations[49] == pytest.approx(49 / FPS)  # still since the first frame
    assert max(durations[51:60]) < 0.5  # walking: never still for long
    assert durations[99] == pytest.approx((99 - 60) / FPS, abs=0.5)  # still again since ~12 s


def test_history_speed_and_first_last_seen_follow_the_object() -> None:
    tracker = Tracker()
    times = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    for t in times:
        update = tracker.update([make_detection("horse", *walk(0.1, 0.3, t))], t)
    track = update.confirmed[0]
    assert [p.t for p in track.history] == times
    assert [round(p.x, 6) for p in track.history] == [round(0.1 + 0.3 * t, 6) for t in times]
    assert (track.first_seen, track.last_seen) == (0.0, 1.0)
    assert track.speed == pytest.approx(0.3, rel=0.02)


def test_uneven_frame_times_keep_one_track_and_the_true_speed() -> None:
    tracker = Tracker()
    times = [0.0, 0.1, 0.5, 0.6, 1.6, 1.7, 2.6, 3.4, 3.45, 4.2]
    ids = set()
    for t in times:
        update = tracker.update([make_detection("cow", *walk(0.1, 0.2, t))], t)
        ids |= {tr.id for tr in update.confirmed + update.tentative}
    assert ids == {1}
    assert update.confirmed[0].speed == pytest.approx(0.2, rel=0.02)


def test_going_back_in_time_is_refused() -> None:
    tracker = Tracker()
    tracker.update([make_detection()], 5.0)
    with pytest.raises(TrackerError, match="before the previous frame"):
        tracker.update([make_detection()], 4.9)


def test_track_anchor_is_the_feet_or_the_centre() -> None:
    tracker = Tracker(TrackerSettings(min_hits=1))
    track = tracker.update([make_box(0.2, 0.3, 0.4, 0.7)], 0.0).confirmed[0]
    assert track.anchor() == pytest.approx((0.3, 0.7))
    assert track.anchor("center") == pytest.approx((0.3, 0.5))


boxes = st.builds(
    lambda label, x, y, w, h: make_box(x, y, min(1.0, x + w), min(1.0, y + h), label),
    st.sampled_from(["cow", "sheep", "person"]),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 0.4),
    st.floats(0.0, 0.4),
)
streams = st.lists(
    st.tuples(st.floats(0.01, 2.0), st.lists(boxes, max_size=12)), min_size=1, max_size=30
)


@given(streams, st.integers(1, 4))
@settings(max_examples=120, deadline=None)
def test_random_streams_keep_ids_unique_and_every_detection_in_one_track(
    stream: list[tuple[float, list[Detection]]], min_hits: int
) -> None:
    # every detection in one track: without the part rule (tested on its own above)
    tracker = Tracker(TrackerSettings(min_hits=min_hits, max_age_s=1.5, part_inside=None))
    t = 0.0
    labels: dict[int, str] = {}
    newest = 0
    for dt, detections in stream:
        t += dt
        update = tracker.update(detections, t)
        live = tracker.tracks
        assert len({tr.id for tr in live}) == len(live)
        seen_now = [tr for tr in update.confirmed + update.tentative if tr.last_seen == t]
        assert sorted(tr.label for tr in seen_now) == sorted(d.label for d in detections)
        assert all(tr.state is TrackState.LOST for tr in update.lost)
        for tr in live:
            assert labels.setdefault(tr.id, tr.label) == tr.label
        fresh = [tr.id for tr in live if tr.id > newest]
        assert sorted(fresh) == list(range(newest + 1, newest + 1 + len(fresh)))
        newest = max([newest, *fresh])


def still_cow_then_unseen(tracker: Tracker, seconds_still: float) -> int:
    """A cow standing at (0.3, 0.5) for `seconds_still`, then unseen; its track id."""
    frames = round(seconds_still * FPS) + 1
    for i in range(frames):
        update = tracker.update([make_detection("cow", 0.3, 0.5)], i / FPS)
    return update.confirmed[0].id


def test_still_animal_unseen_for_long_keeps_its_id_where_it_stood() -> None:
    tracker = Tracker()  # max_age_s 3, still_max_age_s 10
    cow_id = still_cow_then_unseen(tracker, 4.0)
    for k in range(1, 41):  # 8 s without a detection (missed on dark frames, or hidden)
        assert [tr.id for tr in tracker.update([], 4.0 + k / FPS).lost] == [cow_id]
    update = tracker.update([make_detection("cow", 0.31, 0.5)], 12.2)
    assert [tr.id for tr in update.confirmed] == [cow_id]


def test_still_animal_is_removed_after_still_max_age() -> None:
    tracker = Tracker(TrackerSettings(still_max_age_s=5.0))
    cow_id = still_cow_then_unseen(tracker, 4.0)
    assert [tr.id for tr in tracker.update([], 8.8).lost] == [cow_id]
    assert [tr.id for tr in tracker.update([], 9.2).removed] == [cow_id]


def test_moving_animal_unseen_past_max_age_is_removed_even_if_still_age_is_long() -> None:
    tracker = Tracker()
    for i in range(10):
        update = tracker.update([make_detection("sheep", *walk(0.2, 0.05, i / FPS))], i / FPS)
    sheep_id = update.confirmed[0].id
    assert [tr.id for tr in tracker.update([], 3.0).lost] == [sheep_id]
    assert [tr.id for tr in tracker.update([], 5.0).removed] == [sheep_id]


def test_long_lost_track_does_not_take_a_detection_far_from_where_it_stood() -> None:
    tracker = Tracker()
    cow_id = still_cow_then_unseen(tracker, 4.0)
    tracker.update([], 10.0)
    # 0.3 away: more than the cow's own gate plus the capped growth (about 0.23)
    update = tracker.update([make_detection("cow", 0.6, 0.5)], 12.0)
    assert [tr.id for tr in update.tentative] == [cow_id + 1]
    assert [tr.id for tr in update.lost] == [cow_id]


def test_a_part_box_inside_a_tracked_animal_starts_no_track() -> None:
    tracker = Tracker()
    cow = make_box(0.2, 0.4, 0.5, 0.7)
    for i in range(4):
        update = tracker.update([cow], i / FPS)
    cow_id = update.confirmed[0].id
    head = make_box(0.22, 0.42, 0.3, 0.52)  # inside the cow, seen with it
    patch = make_box(0.35, 0.5, 0.42, 0.6)  # inside the cow, seen while the cow is missed
    update = tracker.update([cow, head], 4 / FPS)
    assert [tr.id for tr in update.confirmed] == [cow_id]
    assert update.tentative == []
    update = tracker.update([patch], 5 / FPS)
    assert update.tentative == []
    assert [tr.id for tr in tracker.tracks] == [cow_id]


def test_a_box_only_partly_over_a_tracked_animal_or_of_another_label_starts_a_track() -> None:
    tracker = Tracker()
    cow = make_box(0.2, 0.4, 0.5, 0.7)
    for i in range(4):
        tracker.update([cow], i / FPS)
    beside = make_box(0.42, 0.45, 0.7, 0.72)  # a second cow, mostly outside the first
    dog = make_box(0.25, 0.5, 0.35, 0.65, label="dog")  # in front of the cow
    update = tracker.update([cow, beside, dog], 4 / FPS)
    assert sorted(tr.label for tr in update.tentative) == ["cow", "dog"]


def test_part_rule_switched_off_starts_a_track_for_every_unmatched_box() -> None:
    tracker = Tracker(TrackerSettings(part_inside=None))
    cow = make_box(0.2, 0.4, 0.5, 0.7)
    for i in range(4):
        tracker.update([cow], i / FPS)
    update = tracker.update([cow, make_box(0.22, 0.42, 0.3, 0.52)], 4 / FPS)
    assert len(update.tentative) == 1
