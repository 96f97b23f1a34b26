"""Night profile: chosen by local time window (across midnight) or by darkness, with hysteresis."""

from __future__ import annotations

from datetime import UTC, datetime, time

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from appliance.vision import (
    ClassRulePatch,
    FilterSettings,
    NightSettings,
    ProfileSelector,
    TimeWindow,
    VisionConfigError,
    mean_luma,
)
from tests.appliance.vision.factories import make_detection

NIGHT_20_TO_6 = NightSettings(schedule=[TimeWindow(start=time(20), end=time(6))])


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(19, 59), "day"),
        (at(20, 0), "night"),
        (at(23, 59), "night"),
        (at(0, 0), "night"),
        (at(5, 59), "night"),
        (at(6, 0), "day"),
        (at(12, 0), "day"),
    ],
)
def test_night_schedule_crosses_midnight(moment: datetime, expected: str) -> None:
    selector = ProfileSelector(FilterSettings(), NIGHT_20_TO_6)
    assert selector.select_profile(moment, brightness=None).name == expected


@pytest.mark.parametrize(
    ("utc_hour", "expected"), [(16, "day"), (17, "night"), (2, "night"), (3, "day")]
)
def test_schedule_is_read_in_the_configured_time_zone(utc_hour: int, expected: str) -> None:
    night = NIGHT_20_TO_6.model_copy(update={"timezone": "Europe/Moscow"})  # UTC+3
    selector = ProfileSelector(FilterSettings(), night)
    moment = datetime(2026, 3, 1, utc_hour, 0, tzinfo=UTC)
    assert selector.select_profile(moment, brightness=None).name == expected


def test_darkness_switches_with_hysteresis() -> None:
    selector = ProfileSelector(FilterSettings(), NightSettings(dark_below=40, light_above=60))
    noon = at(12)
    luma = [120, 50, 39, 45, 55, 60, 61, 50, 39]
    chosen = [selector.select_profile(noon, value).name for value in luma]
    assert chosen == ["day", "day", "night", "night", "night", "night", "day", "day", "night"]


def test_unknown_brightness_keeps_the_current_state() -> None:
    selector = ProfileSelector(FilterSettings(), NightSettings(dark_below=40, light_above=60))
    chosen = [selector.select_profile(at(12), value).name for value in (30, None, None, 70, None)]
    assert chosen == ["night", "night", "night", "day", "day"]


def test_night_uses_its_own_thresholds() -> None:
    night = NightSettings(
        dark_below=40,
        light_above=60,
        default=ClassRulePatch(min_score=0.3),
        classes={"person": ClassRulePatch(min_score=0.6)},
    )
    selector = ProfileSelector(FilterSettings(), night)
    dets = [make_detection("cow", score=0.4), make_detection("person", score=0.4)]
    day = selector.select_profile(at(12), 200)
    dark = selector.select_profile(at(12), 10)
    assert [d.label for d in day.apply(dets, 1.0)] == []
    assert [d.label for d in dark.apply(dets, 1.0)] == ["cow"]
    assert (day.rules["person"].min_score, dark.rules["person"].min_score) == (0.5, 0.6)


def test_night_allowlist_can_differ() -> None:
    night = NightSettings(schedule=[TimeWindow(start=time(22), end=time(5))], allow=["person"])
    selector = ProfileSelector(FilterSettings(), night)
    assert selector.select_profile(at(23), None).allow == frozenset({"person"})
    assert "cow" in selector.select_profile(at(12), None).allow


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (128, 128.0), (255, 255.0)])
def test_mean_luma_of_a_grey_frame_is_its_grey_level(value: int, expected: float) -> None:
    frame = np.full((72, 128, 3), value, dtype=np.uint8)
    assert mean_luma(frame) == pytest.approx(expected, abs=0.01)


def test_mean_luma_weights_green_above_blue() -> None:
    green = np.zeros((64, 64, 3), dtype=np.uint8)
    green[..., 1] = 255
    blue = np.zeros((64, 64, 3), dtype=np.uint8)
    blue[..., 0] = 255
    assert mean_luma(green) > 5 * mean_luma(blue)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dark_below": 40}, "must be set together"),
        ({"dark_below": 60, "light_above": 40}, "must be above dark_below"),
        ({"schedule": [{"start": "20:00", "end": "20:00"}]}, "empty"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"schedule": [{"start": "25:00", "end": "06:00"}]}, "schedule.0.start"),
        ({"allow": ["person"], "classes": {"cow": {}}}, "labels not in allow: cow"),
    ],
)
def test_invalid_night_settings_are_refused_with_the_reason(data, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NightSettings.model_validate(data)


def test_night_rules_that_do_not_resolve_are_refused() -> None:
    night = NightSettings(schedule=[], default=ClassRulePatch(min_aspect=9.0))
    with pytest.raises(VisionConfigError, match=r"night: max_aspect 5\.0 is below min_aspect 9"):
        ProfileSelector(FilterSettings(), night)


@given(st.times(), st.times(), st.times())
def test_time_window_matches_minutes_of_the_day(start: time, end: time, moment: time) -> None:
    def seconds(t: time) -> float:
        return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6

    assume(start != end)
    s, e, m = seconds(start), seconds(end), seconds(moment)
    expected = (m - s) % 86400 < (e - s) % 86400
    assert TimeWindow(start=start, end=end).contains(moment) == expected
