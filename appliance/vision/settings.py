"""Vision settings of the appliance: filters, night profile and tracker (zones are per camera)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from appliance.vision.errors import VisionConfigError, describe
from appliance.vision.filters import FilterSettings, check_labels_allowed
from appliance.vision.profile import NightSettings, night_profile
from appliance.vision.tracker import TrackerSettings


class VisionSettings(BaseModel):
    """Everything between the detector and the analyzers that is not per camera."""

    model_config = ConfigDict(extra="forbid")

    filters: FilterSettings = Field(
        default_factory=FilterSettings, description="Day-time label allowlist and class rules."
    )
    night: NightSettings = Field(
        default_factory=NightSettings, description="When night applies and its rule changes."
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
