"""Vision settings: one validated tree, unknown keys refused, every field described."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from appliance.vision import (
    ClassRule,
    ClassRulePatch,
    FilterSettings,
    NightSettings,
    TimeWindow,
    TrackerSettings,
    VisionConfigError,
    VisionSettings,
    ZoneConfig,
    ZoneSettings,
    load_vision_settings,
)

MODELS: list[type[BaseModel]] = [
    VisionSettings,
    FilterSettings,
    ClassRule,
    ClassRulePatch,
    NightSettings,
    TimeWindow,
    TrackerSettings,
    ZoneSettings,
    ZoneConfig,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_settings_field_is_described(model: type[BaseModel]) -> None:
    undescribed = [name for name, f in model.model_fields.items() if not f.description]
    assert undescribed == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_settings_models_refuse_unknown_keys(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"


def test_defaults_are_valid_and_keep_the_shipped_labels() -> None:
    settings = load_vision_settings({})
    shipped = ["person", "bird", "cat", "dog", "horse", "sheep", "cow", "bear"]
    assert settings.filters.allow == shipped


def test_a_full_settings_tree_loads() -> None:
    settings = load_vision_settings(
        {
            "filters": {"classes": {"person": {"min_score": 0.7}}},
            "night": {
                "schedule": [{"start": "20:00", "end": "06:00"}],
                "timezone": "Europe/Moscow",
                "dark_below": 35,
                "light_above": 55,
                "default": {"min_score": 0.35},
            },
            "tracker": {"min_hits": 2, "max_age_s": 5},
        }
    )
    assert settings.night.schedule[0].end.hour == 6
    assert settings.tracker.max_age_s == 5.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tracker": {"max_age": 5}}, r"tracker\.max_age: Extra inputs"),
        ({"night": {"classes": {"pig": {}}}}, "night.classes: rules for labels not in allow: pig"),
        ({"tracker": {"min_hits": 0}}, r"tracker\.min_hits: Input should be greater than or"),
    ],
)
def test_invalid_settings_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(VisionConfigError, match=message):
        load_vision_settings(data)
