"""Byre wire contracts: the messages, topics and payloads both sides of the system speak.

This package imports nothing from the rest of the repository.
"""

from contracts.base import SCHEMA_VERSION, ContractModel
from contracts.commands import CommandAck, CommandStatus, DeviceCommand
from contracts.envelope import EventEnvelope, EventType
from contracts.errors import ContractError, TopicError
from contracts.events import FarmEvent, FarmEventKind, Severity
from contracts.ids import new_id
from contracts.incidents import Incident, IncidentState
from contracts.media import MediaKind, MediaRecord
from contracts.registry import MESSAGES, decode
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

__all__ = [
    "MESSAGES",
    "SCHEMA_VERSION",
    "CommandAck",
    "CommandStatus",
    "ContractError",
    "ContractModel",
    "DeviceCommand",
    "EnrolRequest",
    "EnrolResponse",
    "EnrolmentCode",
    "EnrolmentCodeRequest",
    "EventEnvelope",
    "EventType",
    "FarmEvent",
    "FarmEventKind",
    "Incident",
    "IncidentState",
    "MediaKind",
    "MediaRecord",
    "RejectedEvent",
    "Severity",
    "SyncBatchRequest",
    "SyncBatchResponse",
    "TelemetrySample",
    "TopicError",
    "decode",
    "new_id",
]
