"""The event envelope: every event the appliance records and syncs travels in one."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field, JsonValue, ValidationError, ValidationInfo, field_validator

from contracts.base import ContractModel, UtcDatetime
from contracts.commands import CommandAck, DeviceCommand
from contracts.events import FarmEvent
from contracts.ids import CorrelationId, Identifier
from contracts.incidents import Incident
from contracts.media import MediaRecord
from contracts.telemetry import TelemetrySample


class EventType(StrEnum):
    """Event types are `<family>.<name>`; the family decides the bus topic (see topics)."""

    FARM_EVENT = "incident.event"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
    INCIDENT_ESCALATED = "incident.escalated"
    INCIDENT_RESOLVED = "incident.resolved"
    MEDIA_READY = "incident.media_ready"
    TELEMETRY_DEVICE = "telemetry.device"
    TELEMETRY_SYSTEM = "telemetry.system"
    COMMAND_REQUESTED = "commands.requested"
    COMMAND_SENT = "commands.sent"
    COMMAND_ACKNOWLEDGED = "commands.acknowledged"
    COMMAND_TIMED_OUT = "commands.timed_out"


PAYLOAD_MODELS: dict[EventType, type[ContractModel]] = {
    EventType.FARM_EVENT: FarmEvent,
    EventType.INCIDENT_OPENED: Incident,
    EventType.INCIDENT_UPDATED: Incident,
    EventType.INCIDENT_ACKNOWLEDGED: Incident,
    EventType.INCIDENT_ESCALATED: Incident,
    EventType.INCIDENT_RESOLVED: Incident,
    EventType.MEDIA_READY: MediaRecord,
    EventType.TELEMETRY_DEVICE: TelemetrySample,
    EventType.TELEMETRY_SYSTEM: TelemetrySample,
    EventType.COMMAND_REQUESTED: DeviceCommand,
    EventType.COMMAND_SENT: DeviceCommand,
    EventType.COMMAND_ACKNOWLEDGED: CommandAck,
    EventType.COMMAND_TIMED_OUT: DeviceCommand,
}


class EventEnvelope(ContractModel):
    """One event, as stored on the appliance, synced to central and published on the bus.

    `id` is a UUIDv7 (sortable by time) and the idempotency key on every hop;
    `seq` increases by one per event on each appliance, with no gaps.
    The payload is validated against the model registered for `type`.
    """

    id: UUID = Field(description="UUIDv7 event id; every hop dedupes by it.")
    type: EventType
    schema_version: Literal[1] = Field(default=1, description="Bumped on breaking changes.")
    farm_id: Identifier
    appliance_id: Identifier
    correlation_id: CorrelationId
    seq: int = Field(ge=1, description="Per-appliance monotonic sequence number.")
    occurred_at: UtcDatetime
    payload: dict[str, JsonValue]

    @field_validator("payload")
    @classmethod
    def _payload_matches_type(
        cls, payload: dict[str, JsonValue], info: ValidationInfo
    ) -> dict[str, JsonValue]:
        event_type = info.data.get("type")
        if event_type is None:  # `type` itself failed; that error is reported already
            return payload
        try:
            PAYLOAD_MODELS[event_type].model_validate(payload)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{where}: {first['msg']}") from err
        return payload

    def typed_payload(self) -> ContractModel:
        """The payload parsed into its registered model."""
        return PAYLOAD_MODELS[self.type].model_validate(self.payload)
