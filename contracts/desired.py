"""Desired and reported state: what central wants a farm's appliance to run, and what the
appliance reports it has applied.

The appliance long-polls `DESIRED_PATH` with the last `version` it saw; central answers
with a `DesiredState` as soon as its version is newer (or 304 after the wait). Pending
commands stay in the desired state until an appliance reports them, so a lost answer only
delays them; the appliance runs each correlation id once. It reports with a `ReportedState`
on `REPORTED_PATH`; progress only moves forward, so a repeated report changes nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, JsonValue

from contracts.base import ContractModel
from contracts.commands import DeviceCommand
from contracts.ids import CorrelationId, Identifier
from contracts.plugin import Sha256

DESIRED_PATH = "/api/v1/sync/desired"
REPORTED_PATH = "/api/v1/sync/reported"
MAX_WAIT_S = 60
MAX_COMMANDS = 500
MAX_MODELS = 50


class ModelAssignment(ContractModel):
    """A model bundle central wants the farm to run."""

    name: Identifier = Field(description="The bundle's manifest name.")
    version: str = Field(max_length=64, pattern=r"^\d+\.\d+\.\d+([.+-][0-9A-Za-z.+-]+)?$")
    sha256: Sha256 | None = Field(default=None, description="Of the bundle archive, if known.")


class DesiredState(ContractModel):
    """Central's answer to a desired-state poll: everything, not a diff."""

    schema_version: Literal[1] = Field(default=1, description="Bumped on breaking changes.")
    farm_id: Identifier
    version: int = Field(ge=0, description="Grows whenever anything below changes.")
    config_version: int = Field(ge=0, description="Grows whenever `config` changes.")
    config: dict[str, JsonValue] = Field(
        default_factory=dict, description="Farm settings (thresholds, feature flags)."
    )
    model_assignments: list[ModelAssignment] = Field(default_factory=list, max_length=MAX_MODELS)
    commands: list[DeviceCommand] = Field(
        default_factory=list,
        max_length=MAX_COMMANDS,
        description="Commands no appliance has reported yet, oldest first.",
    )


class CommandProgress(StrEnum):
    """How far a command from central got on the farm; never moves backwards."""

    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    DONE = "done"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


class CommandReport(ContractModel):
    correlation_id: CorrelationId
    state: CommandProgress
    detail: str | None = Field(default=None, max_length=500)


class ModelState(StrEnum):
    ASSIGNED = "assigned"
    """Recorded; not running yet."""
    ACTIVE = "active"
    FAILED = "failed"


class ModelReport(ContractModel):
    name: Identifier
    version: str = Field(min_length=1, max_length=64)
    state: ModelState


class ReportedState(ContractModel):
    """What an appliance has applied: the desired version and how its commands are doing."""

    schema_version: Literal[1] = Field(default=1, description="Bumped on breaking changes.")
    appliance_id: Identifier
    applied_version: int = Field(ge=0)
    config_version: int = Field(ge=0)
    commands: list[CommandReport] = Field(default_factory=list, max_length=MAX_COMMANDS)
    models: list[ModelReport] = Field(default_factory=list, max_length=MAX_MODELS)


class ReportedStateResponse(ContractModel):
    """Every reported correlation id is in exactly one list."""

    updated: list[CorrelationId] = Field(description="Its state moved forward now.")
    unchanged: list[CorrelationId] = Field(description="Already there or further (a repeat).")
    unknown: list[CorrelationId] = Field(description="Not a command central holds for the farm.")
