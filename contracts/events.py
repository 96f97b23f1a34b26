"""Farm events: what analyzers and device rules report to the incident engine."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, JsonValue, StringConstraints

from contracts.base import ContractModel
from contracts.ids import Identifier


class FarmEventKind(StrEnum):
    ESCAPE = "escape"
    FENCE_BREACH = "fence_breach"
    ANIMAL_ON_ROAD = "animal_on_road"
    INTRUDER = "intruder"
    PREDATOR = "predator"
    ANIMAL_DOWN = "animal_down"
    HEADCOUNT_DROP = "headcount_drop"
    CROWDING = "crowding"
    CAMERA_HEALTH = "camera_health"
    WATER_LOW = "water_low"
    HEAT_STRESS = "heat_stress"
    AMMONIA_HIGH = "ammonia_high"
    POWER_LOSS = "power_loss"
    DEVICE_OFFLINE = "device_offline"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class FarmEvent(ContractModel):
    """Payload of an `incident.event` envelope: one observation of a farm condition."""

    kind: FarmEventKind = Field(description="What was observed.")
    severity: Severity = Field(description="How urgent the observation is.")
    summary: str = Field(min_length=1, max_length=500, description="One line for people.")
    camera_id: Identifier | None = Field(default=None, description="Camera that saw it.")
    device_id: Identifier | None = Field(default=None, description="Device that reported it.")
    zone: str | None = Field(default=None, max_length=64, description="Zone name, if any.")
    track_id: int | None = Field(default=None, ge=0, description="Tracked object, if any.")
    labels: list[Label] = Field(default_factory=list, description="Object classes involved.")
    attributes: dict[str, JsonValue] = Field(
        default_factory=dict, description="Rule-specific measurements (counts, THI, levels)."
    )
