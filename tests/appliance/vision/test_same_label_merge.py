"""A second box of the same label on one animal (overlapping, or a part inside) is dropped."""

from __future__ import annotations

from appliance.vision import FilterSettings, NightSettings, VisionSettings
from appliance.vision.filters import day_profile
from appliance.vision.profile import night_profile
from tests.appliance.vision.factories import make_box, make_detection

SQUARE_FRAME = 1.0


def test_overlapping_cow_boxes_keep_the_better_one_by_day_and_night() -> None:
    best = make_detection("cow", w=0.2, h=0.16, score=0.9)
    shifted = make_detection("cow", cx=0.52, w=0.2, h=0.16, score=0.6)  # IoU about 0.82
    filters = VisionSettings().filters
    for profile in (day_profile(filters), night_profile(filters, NightSettings())):
        assert profile.apply([shifted, best], SQUARE_FRAME) == [best]


def test_a_part_inside_a_better_box_is_dropped_but_a_better_part_is_kept() -> None:
    body = make_box(0.2, 0.4, 0.5, 0.7)
    head = make_detection("cow", cx=0.27, cy=0.5, w=0.1, h=0.12, score=0.5)  # inside body
    profile = day_profile(VisionSettings().filters)
    assert profile.apply([head, body], SQUARE_FRAME) == [body]
    # the better-scored box wins: a part scored above the whole one is kept with it
    sure_head = head.model_copy(update={"score": 0.95})
    assert profile.apply([sure_head, body], SQUARE_FRAME) == [sure_head, body]


def test_cows_side_by_side_that_overlap_a_little_are_both_kept() -> None:
    left = make_box(0.20, 0.40, 0.45, 0.70)
    right = make_box(0.38, 0.42, 0.63, 0.72).model_copy(update={"score": 0.7})
    profile = day_profile(VisionSettings().filters)
    assert profile.apply([left, right], SQUARE_FRAME) == [left, right]


def test_a_dropped_box_does_not_drop_others() -> None:
    # b overlaps a (dropped); c overlaps only b: c stays, as in greedy NMS
    a = make_box(0.10, 0.40, 0.30, 0.60)
    b = make_box(0.14, 0.40, 0.34, 0.60).model_copy(update={"score": 0.8})
    c = make_box(0.20, 0.40, 0.40, 0.60).model_copy(update={"score": 0.7})
    profile = day_profile(FilterSettings(same_label_iou=0.5))
    assert profile.apply([a, b, c], SQUARE_FRAME) == [a, c]


def test_other_labels_and_unset_settings_keep_every_box() -> None:
    cow = make_detection("cow", w=0.2, h=0.16, score=0.9)
    twin = make_detection("cow", cx=0.51, w=0.2, h=0.16, score=0.6)
    sheep = make_detection("sheep", cx=0.51, w=0.2, h=0.16, score=0.6)
    assert day_profile(FilterSettings()).apply([cow, twin], SQUARE_FRAME) == [cow, twin]
    merging = FilterSettings(same_label_iou=0.5, same_label_inside=0.8)
    assert day_profile(merging).apply([cow, sheep], SQUARE_FRAME) == [cow, sheep]
