"""One object seen as two classes keeps only its better-scored label."""

from __future__ import annotations

from appliance.vision import FilterSettings, NightSettings, VisionSettings
from appliance.vision.filters import day_profile
from appliance.vision.profile import night_profile
from tests.appliance.vision.factories import make_detection

SQUARE_FRAME = 1.0


def test_dog_box_on_a_horse_is_dropped_by_day_and_night() -> None:
    horse = make_detection("horse", score=0.8)
    dog = make_detection("dog", cx=0.505, score=0.6)
    filters = VisionSettings().filters  # the appliance's defaults
    for profile in (day_profile(filters), night_profile(filters, NightSettings())):
        assert profile.apply([dog, horse], SQUARE_FRAME) == [horse]


def test_boxes_of_one_class_and_apart_are_all_kept() -> None:
    cows = [make_detection("cow", score=0.9), make_detection("cow", cx=0.62, score=0.8)]
    dog = make_detection("dog", cx=0.8, score=0.6)
    profile = day_profile(VisionSettings().filters)
    assert profile.apply([*cows, dog], SQUARE_FRAME) == [*cows, dog]


def test_switched_off_keeps_both_labels() -> None:
    horse = make_detection("horse", score=0.8)
    dog = make_detection("dog", cx=0.505, score=0.6)
    profile = day_profile(FilterSettings(same_object_iou=None))
    assert profile.apply([horse, dog], SQUARE_FRAME) == [horse, dog]
