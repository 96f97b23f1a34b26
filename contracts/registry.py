"""Every wire message by name, and decoding with errors that name the field."""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from contracts.base import ContractModel
from contracts.bus import CommandRequest
from contracts.commands import CommandAck, DeviceCommand
from contracts.desired import DesiredState, ReportedState, ReportedStateResponse
from contracts.envelope import EventEnvelope
from contracts.errors import ContractError
from contracts.events import FarmEvent
from contracts.incidents import Incident
from contracts.media import MediaRecord
from contracts.plugin import PluginManifest
from contracts.sync import (
    EnrolmentCode,
    EnrolmentCodeRequest,
    EnrolRequest,
    EnrolResponse,
    RejectedEvent,
    SyncBatchRequest,
    SyncBatchResponse,
)
from contracts.telemetry import TelemetrySample

MESSAGES: dict[str, type[ContractModel]] = {
    model.__name__: model
    for model in (
        EventEnvelope,
        FarmEvent,
        Incident,
        MediaRecord,
        DeviceCommand,
        CommandAck,
        TelemetrySample,
        EnrolmentCodeRequest,
        EnrolmentCode,
        EnrolRequest,
        EnrolResponse,
        SyncBatchRequest,
        SyncBatchResponse,
        RejectedEvent,
        PluginManifest,
        CommandRequest,
        DesiredState,
        ReportedState,
        ReportedStateResponse,
    )
}

_NESTED = re.compile(r"^([^:\s]+): (.*)$", re.DOTALL)

M = TypeVar("M", bound=BaseModel)


def decode(model: type[M], data: bytes | str | object) -> M:
    """Validate JSON text/bytes or a parsed object; raise ContractError naming the field."""
    try:
        if isinstance(data, bytes | str):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as err:
        raise contract_error(err) from err
    except json.JSONDecodeError as err:  # pragma: no cover - pydantic reports JSON errors
        raise ContractError(str(err)) from err


def contract_error(err: ValidationError) -> ContractError:
    """The first validation problem as a ContractError with a dotted field path."""
    first = err.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    nested = _NESTED.match(message)
    if field == "payload" and nested:  # payload errors carry their own inner path
        field = f"payload.{nested.group(1)}"
        message = nested.group(2).removeprefix("Value error, ")
    return ContractError(message, field=field or "(message)")
