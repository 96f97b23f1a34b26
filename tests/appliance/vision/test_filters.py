"""Per-class detection filters: allowlist, score, area and aspect."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from appliance.vision import ClassRule, ClassRulePatch, FilterSettings
from appliance.vision.filters import day_profile
from tests.appliance.vision.factories import make_box, make_detection

SQUARE_FRAME = 1.0


@pytest.mark.parametrize(
    ("detection", "reason"),
    [
        (make_detection("cow", score=0.3), "score"),
        (make_detection("cow", w=0.01, h=0.01), "area"),
        (make_detection("cow", w=0.98, h=0.98), "area"),
        (make_detection("cow", w=0.3, h=0.02), "aspect"),
        (make_detection("cow", w=0.02, h=0.3), "aspect"),
        (make_detection("car"), "label"),
        (make_box(0.2, 0.2, 0.2, 0.5), "area"),
        (make_detection("cow"), None),
    ],
    ids=["low-score", "tiny", "huge", "too-wide", "too-tall", "not-allowed", "empty", "kept"],
)
def test_default_profile_rejects_small_low_score_odd_aspect_and_unlisted_boxes(
    detection, reason
) -> None:
    profile = day_profile(FilterSettings())
    assert profile.rejection(detection, SQUARE_FRAME) == reason


def test_class_rule_overrides_only_the_fields_it_sets() -> None:
    settings = FilterSettings(
        default=ClassRule(min_score=0.5, min_area=0.001),
        classes={"person": ClassRulePatch(min_score=0.8)},
    )
    profile = day_profile(settings)
    assert profile.rules["person"] == ClassRule(min_score=0.8, min_area=0.001)
    assert profile.rules["cow"] == ClassRule(min_score=0.5, min_area=0.001)
    dets = [make_detection("person", score=0.7), make_detection("cow", score=0.7)]
    assert [d.label for d in profile.apply(dets, SQUARE_FRAME)] == ["cow"]


@pytest.mark.parametrize(("frame_aspect", "kept"), [(1.0, True), (16 / 9, False)])
def test_aspect_is_judged_in_pixels_of_the_frame(frame_aspect: float, kept: bool) -> None:
    # 0.4 x 0.12 of the frame: 3.3:1 in a square frame, 5.9:1 in a 16:9 frame
    settings = FilterSettings(classes={"horse": ClassRulePatch(max_aspect=4.0)})
    detection = make_detection("horse", w=0.4, h=0.12)
    assert (day_profile(settings).rejection(detection, frame_aspect) is None) is kept


def test_allowlist_limits_the_labels_kept() -> None:
    profile = day_profile(FilterSettings(allow=["cow", "sheep"]))
    dets = [make_detection(label) for label in ("cow", "person", "sheep", "dog")]
    assert [d.label for d in profile.apply(dets, SQUARE_FRAME)] == ["cow", "sheep"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"classes": {"cwo": {"min_score": 0.3}}}, "labels not in allow: cwo"),
        ({"default": {"min_area": 0.5, "max_area": 0.1}}, "max_area 0.1 is below min_area 0.5"),
        ({"classes": {"cow": {"min_aspect": 9.0}}}, "classes.cow: .*max_aspect 5.0 is below"),
        ({"default": {"min_score": 1.5}}, "less than or equal to 1"),
        ({"thresholds": {}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_filter_settings_are_refused_with_the_reason(data, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FilterSettings.model_validate(data)
