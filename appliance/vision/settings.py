"""Vision settings of the appliance: filters, night profile and tracker (zones are per camera)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from appliance.vision.errors import VisionConfigError, describe
from appliance.vision.filters import ClassRulePatch, FilterSettings, check_labels_allowed
from appliance.vision.profile import NightSettings, night_profile
from appliance.vision.tracker import TrackerSettings

NIGHT_DARK_BELOW = 50.0  # mean luma; composed night scenes sit near 37, day near 113
NIGHT_LIGHT_ABOVE = 70.0
NIGHT_MIN_SCORE = 0.3  # the shipped SSD scores animals near 0.35 on dark, grainy frames


SAME_OBJECT_IOU = 0.7


def default_filters() -> FilterSettings:
    """Day filters; one box seen as two labels keeps the better-scored one."""
    return FilterSettings(same_object_iou=SAME_OBJECT_IOU)


def default_night() -> NightSettings:
    """Night by darkness, with a lower score threshold: the detector is less sure of itself on
    dark, colourless, noisy frames (docs/models.md), and the tracker's confirmation (two hits)
    and the analyzers' holds keep single wrong boxes from raising alarms."""
    return NightSettings(
        dark_below=NIGHT_DARK_BELOW,
        light_above=NIGHT_LIGHT_ABOVE,
        default=ClassRulePatch(min_score=NIGHT_MIN_SCORE),
    )


class VisionSettings(BaseModel):
    """Everything between the detector and the analyzers that is not per camera."""

    model_config = ConfigDict(extra="forbid")

    filters: FilterSettings = Field(
        default_factory=default_filters, description="Day-time label allowlist and class rules."
    )
    night: NightSettings = Field(
        default_factory=default_night, description="When night applies and its rule changes."
    )
    tracker: TrackerSettings = Field(
        default_factory=TrackerSettings, description="How detections become tracks."
    )

    @model_validator(mode="after")
    def _night_rules_resolve(self) -> VisionSettings:
        if self.night.allow is None:
            check_labels_allowed(self.night.classes, self.filters.allow, "night.classes")
        try:
            night_profile(self.filters, self.night)
        except ValueError as err:
            raise ValueError(f"night: {err}") from err
        return self


def load_vision_settings(data: object) -> VisionSettings:
    """Validate vision settings; the error names each key and reason."""
    try:
        return VisionSettings.model_validate(data)
    except ValidationError as err:
        raise VisionConfigError(describe(err)) from err
