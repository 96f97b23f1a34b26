"""Device commands and their acknowledgements."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, JsonValue, StringConstraints, ValidationInfo, field_validator

from contracts.base import ContractModel, UtcDatetime
from contracts.ids import CorrelationId, Identifier

ActionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class DeviceCommand(ContractModel):
    """A command for one device; sent on its MQTT command topic and as `commands.*` payload.

    Devices execute a command once per `correlation_id`, however often it arrives.
    """

    command_id: UUID = Field(description="Id of this attempt.")
    correlation_id: CorrelationId = Field(description="Idempotency key across retries.")
    device_id: Identifier
    action: ActionName = Field(description="What to do, e.g. `open`, `set_speed`, `sound`.")
    params: dict[str, JsonValue] = Field(default_factory=dict)
    requested_at: UtcDatetime
    expires_at: UtcDatetime = Field(description="Devices ignore the command after this time.")
    requested_by: str = Field(min_length=1, max_length=100, description="User or rule.")

    @field_validator("expires_at")
    @classmethod
    def _expires_after_request(cls, expires_at: datetime, info: ValidationInfo) -> datetime:
        requested_at = info.data.get("requested_at")  # absent when it failed itself
        if requested_at is not None and expires_at <= requested_at:
            raise ValueError("expires_at must be after requested_at")
        return expires_at


class CommandStatus(StrEnum):
    ACCEPTED = "accepted"
    DONE = "done"
    FAILED = "failed"


class CommandAck(ContractModel):
    """A device's answer to a command, on its MQTT ack topic and as `commands.*` payload."""

    command_id: UUID
    correlation_id: CorrelationId
    device_id: Identifier
    status: CommandStatus
    detail: str | None = Field(default=None, max_length=500)
    at: UtcDatetime | None = Field(
        default=None, description="Device clock, if it has one; the appliance stamps receipt."
    )
