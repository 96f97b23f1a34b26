"""Settings of device management (`[devices]`): command sagas, rules, automations, telemetry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from appliance.devices.rules import RuleSettings
from contracts.events import FarmEventKind, Severity
from contracts.ids import IDENTIFIER_PATTERN


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutomationAction(_Section):
    device_id: str = Field(pattern=IDENTIFIER_PATTERN, description="Device to command.")
    action: str = Field(description="Command action, e.g. `set_speed`, `turn_on`, `sound`.")
    params: dict[str, JsonValue] = Field(default_factory=dict, description="Command params.")


class Automation(_Section):
    """When a farm event of `when` happens (optionally only from some sources, zones or hours),
    send the `then` commands; every command is a saga recorded with `requested_by=rule:<name>`."""

    name: str = Field(pattern=IDENTIFIER_PATTERN, description="Rule name, shown in the audit.")
    when: FarmEventKind = Field(description="Event kind that triggers the rule.")
    min_severity: Severity = Field(default=Severity.WARNING, description="Ignore milder events.")
    sources: list[str] = Field(
        default_factory=list,
        description="Only events from these devices or cameras (any if empty).",
    )
    zones: list[str] = Field(default_factory=list, description="Only events in these zones.")
    hours: tuple[int, int] | None = Field(
        default=None, description="Only from the first to the second local hour, e.g. [20, 6]."
    )
    cooldown_s: float = Field(
        default=300.0, ge=0, description="Do not fire again for the same case within this time."
    )
    then: list[AutomationAction] = Field(min_length=1, description="Commands to send.")


def default_automations() -> list[Automation]:
    return []


class DeviceSettings(_Section):
    command_ack_timeout_s: float = Field(
        default=10.0, gt=0, description="Wait this long for a device's ack before resending."
    )
    command_attempts: int = Field(
        default=3, ge=1, le=20, description="Sends of one command before it times out."
    )
    command_ttl_s: float = Field(
        default=300.0, gt=0, description="Devices ignore a command this long after it was made."
    )
    telemetry_event_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="At most one synced telemetry event per device per interval (0: every one).",
    )
    telemetry_minute_days: int = Field(
        default=7, ge=1, description="Keep one-minute telemetry rollups this many days."
    )
    telemetry_hour_days: int = Field(
        default=365, ge=1, description="Keep one-hour telemetry rollups this many days."
    )
    system_telemetry_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between the appliance's own telemetry events."
    )
    rules: RuleSettings = Field(
        default_factory=RuleSettings, description="Thresholds of sensor-driven farm events."
    )
    automations: list[Automation] = Field(
        default_factory=default_automations, description="Rules that command devices."
    )
