"""The appliance's default thresholds: alarm classes are kept down to the detector's floor by
day; other classes need more; at night every class is kept down to the floor."""

from __future__ import annotations

import pytest

from appliance.vision import VisionSettings
from appliance.vision.filters import day_profile
from appliance.vision.profile import night_profile
from tests.appliance.vision.factories import make_detection

SQUARE_FRAME = 1.0


@pytest.mark.parametrize(
    ("label", "score", "by_day", "by_night"),
    [
        ("dog", 0.32, True, True),
        ("person", 0.32, True, True),
        ("bear", 0.32, True, True),
        ("cow", 0.32, False, True),
        ("cow", 0.42, True, True),
        ("sheep", 0.25, False, False),
    ],
)
def test_default_profiles_keep_by_class_and_light(
    label: str, score: float, by_day: bool, by_night: bool
) -> None:
    settings = VisionSettings()
    detection = make_detection(label, score=score)
    day = day_profile(settings.filters)
    night = night_profile(settings.filters, settings.night)
    assert (day.rejection(detection, SQUARE_FRAME) is None) is by_day
    assert (night.rejection(detection, SQUARE_FRAME) is None) is by_night
