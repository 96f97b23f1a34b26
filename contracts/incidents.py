"""Incidents: farm events grouped by correlation id, with case state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field, ValidationInfo, field_validator

from contracts.base import ContractModel, UtcDatetime
from contracts.events import FarmEventKind, Severity
from contracts.ids import CorrelationId


class IncidentState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Incident(ContractModel):
    """Payload of `incident.opened|updated|acknowledged|escalated|resolved` envelopes."""

    incident_id: UUID = Field(description="Stable id of the incident.")
    correlation_id: CorrelationId = Field(description="The case this incident tracks.")
    kind: FarmEventKind
    severity: Severity
    state: IncidentState
    title: str = Field(min_length=1, max_length=200)
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    occurrences: int = Field(default=1, ge=1, description="Events merged into this incident.")
    escalation_level: int = Field(default=0, ge=0)
    acknowledged_by: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=2000, description="Resolution note.")

    @field_validator("updated_at")
    @classmethod
    def _updated_not_before_opened(cls, updated_at: datetime, info: ValidationInfo) -> datetime:
        opened_at = info.data.get("opened_at")  # absent when it failed itself
        if opened_at is not None and updated_at < opened_at:
            raise ValueError("updated_at must not be before opened_at")
        return updated_at
