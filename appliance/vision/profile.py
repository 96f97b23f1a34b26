"""Night profile: different filter thresholds by local time window or by scene brightness.

Night is on when the local time is inside a scheduled window (windows may cross midnight) or
when the scene is dark. Darkness uses hysteresis: it starts when the mean luma falls below
`dark_below` and ends only when it rises above `light_above`, so a flickering scene does not
flap between profiles.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from appliance.vision.errors import VisionConfigError
from appliance.vision.filters import (
    ClassRulePatch,
    FilterSettings,
    Profile,
    build_profile,
    check_labels_allowed,
    day_profile,
    merge_of,
)

LUMA_WEIGHTS_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimeWindow(_Section):
    """A daily window of local time, `start` inclusive, `end` exclusive; may cross midnight."""

    start: time = Field(description="Local time the window opens, e.g. `20:00`.")
    end: time = Field(description="Local time the window closes, e.g. `06:00`.")

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty: start equals end")
        return self

    def contains(self, moment: time) -> bool:
        moment = moment.replace(tzinfo=None)
        start, end = self.start.replace(tzinfo=None), self.end.replace(tzinfo=None)
        if start < end:
            return start <= moment < end
        return moment >= start or moment < end


class NightSettings(_Section):
    """When the night profile applies and how its rules differ from the day ones."""

    schedule: list[TimeWindow] = Field(
        default_factory=list, description="Local time windows that are night; empty: none."
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone the schedule is in (e.g. `Europe/Moscow`); unset: the clock "
        "given to `select_profile` is already local.",
    )
    dark_below: float | None = Field(
        default=None,
        ge=0.0,
        le=255.0,
        description="Night starts when mean luma (0-255) falls below.",
    )
    light_above: float | None = Field(
        default=None, ge=0.0, le=255.0, description="Night by darkness ends when luma rises above."
    )
    allow: list[str] | None = Field(
        default=None, description="Labels kept at night; unset: the day allowlist."
    )
    default: ClassRulePatch = Field(
        default_factory=ClassRulePatch, description="Changes to every class's rule at night."
    )
    classes: dict[str, ClassRulePatch] = Field(
        default_factory=dict, description="Per-label changes at night, applied after `default`."
    )

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as err:
                raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @model_validator(mode="after")
    def _brightness_thresholds_paired(self) -> NightSettings:
        if (self.dark_below is None) != (self.light_above is None):
            raise ValueError("dark_below and light_above must be set together")
        if (
            self.dark_below is not None
            and self.light_above is not None
            and self.light_above <= self.dark_below
        ):
            raise ValueError(
                f"light_above ({self.light_above}) must be above dark_below ({self.dark_below})"
            )
        if self.allow is not None:
            check_labels_allowed(self.classes, self.allow, "classes")
        return self


def night_profile(filters: FilterSettings, night: NightSettings) -> Profile:
    """The night profile: each label's day rule with the night changes applied."""
    day = day_profile(filters)
    allow = night.allow if night.allow is not None else filters.allow
    base = {label: day.rules.get(label, filters.default) for label in allow}
    return build_profile(
        "night",
        allow,
        base,
        night.default,
        night.classes,
        filters.same_object_iou,
        merge_of(filters),
    )


def mean_luma(frame_bgr: NDArray[np.uint8], step: int = 8) -> float:
    """Mean luma (0-255) of a BGR frame, sampled every `step` pixels (cheap)."""
    sample = frame_bgr[::step, ::step].reshape(-1, 3).astype(np.float32)
    if sample.size == 0:
        return 0.0
    return float((sample @ LUMA_WEIGHTS_BGR).mean())


class ProfileSelector:
    """Chooses the day or night profile for each frame of one camera (keeps the hysteresis)."""

    def __init__(self, filters: FilterSettings, night: NightSettings) -> None:
        self.replace(filters, night)
        self._dark = False

    def replace(self, filters: FilterSettings, night: NightSettings) -> None:
        """Use new day and night rules from the next frame on; the darkness state is kept."""
        day = day_profile(filters)
        try:
            night_rules = night_profile(filters, night)
        except (KeyError, ValueError) as err:
            raise VisionConfigError(f"night: {err}") from err
        self.day, self.night = day, night_rules
        self._night = night
        self._zone = ZoneInfo(night.timezone) if night.timezone else None

    @property
    def dark(self) -> bool:
        """Whether the scene currently counts as dark (after hysteresis)."""
        return self._dark

    def scheduled(self, now: datetime) -> bool:
        """Whether `now` falls in a night window (naive `now` is taken as local time)."""
        if self._zone is not None and now.tzinfo is not None:
            now = now.astimezone(self._zone)
        moment = now.time()
        return any(window.contains(moment) for window in self._night.schedule)

    def select_profile(self, now: datetime, brightness: float | None) -> Profile:
        """The profile for a frame taken at `now` with mean luma `brightness` (None: unknown)."""
        self._update_dark(brightness)
        return self.night if self._dark or self.scheduled(now) else self.day

    def _update_dark(self, brightness: float | None) -> None:
        low, high = self._night.dark_below, self._night.light_above
        if brightness is None or low is None or high is None:
            return
        if not self._dark and brightness < low:
            self._dark = True
        elif self._dark and brightness > high:
            self._dark = False
