"""Valid, realistic examples of every wire message, for the contract test suites.

`EXAMPLES` maps each name in `contracts.MESSAGES` to its `make_<snake_name>()` factory;
`PAYLOADS` maps each `EventType` to a factory of the payload it carries, and
`make_envelope(event_type)` wraps that payload in an envelope.
Factories are deterministic within a test run, so two calls give equal messages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import JsonValue

from contracts import (
    CommandAck,
    CommandStatus,
    ContractModel,
    DeviceCommand,
    EnrolmentCode,
    EnrolmentCodeRequest,
    EnrolRequest,
    EnrolResponse,
    EventEnvelope,
    EventType,
    FarmEvent,
    FarmEventKind,
    Incident,
    IncidentState,
    MediaKind,
    MediaRecord,
    RejectedEvent,
    Severity,
    SyncBatchRequest,
    SyncBatchResponse,
    TelemetrySample,
    new_id,
)
from contracts.bus import CommandRequest
from contracts.desired import (
    CommandProgress,
    CommandReport,
    DesiredState,
    ModelAssignment,
    ModelReport,
    ModelState,
    ReportedState,
    ReportedStateResponse,
)
from contracts.plugin import (
    BundleFile,
    InputSpec,
    PluginManifest,
    SsdAnchorsDecoder,
    Thresholds,
)

FARM_ID = "farm-7"
APPLIANCE_ID = "barn-box-1"
CAMERA_ID = "cam-north-pasture"
DEVICE_ID = "trough-3"
GATE_ID = "gate-2"
OCCURRED_AT = datetime(2025, 6, 1, 4, 30, 12, 250_000, tzinfo=UTC)
CASE_ID = f"{CAMERA_ID}:predator:pasture:17"
COMMAND_CASE_ID = f"cmd:{GATE_ID}:open:0001"

EVENT_ID = new_id()
INCIDENT_ID = new_id()
COMMAND_ID = new_id()
BATCH_ID = new_id()
ACCEPTED_IDS = (new_id(), new_id())
DUPLICATE_ID = new_id()
MEDIA_ID = new_id()


def make_farm_event() -> FarmEvent:
    return FarmEvent(
        kind=FarmEventKind.PREDATOR,
        severity=Severity.CRITICAL,
        summary="Dog near the herd in the north pasture",
        camera_id=CAMERA_ID,
        zone="pasture",
        track_id=17,
        labels=["dog", "cow"],
        attributes={"distance_m": 12.5, "herd_count": 23, "night_mode": True},
    )


def make_incident(
    state: IncidentState = IncidentState.OPEN,
    *,
    occurrences: int = 1,
    escalation_level: int = 0,
    acknowledged_by: str | None = None,
    note: str | None = None,
) -> Incident:
    return Incident(
        incident_id=INCIDENT_ID,
        correlation_id=CASE_ID,
        kind=FarmEventKind.PREDATOR,
        severity=Severity.CRITICAL,
        state=state,
        title="Predator near the herd (north pasture)",
        opened_at=OCCURRED_AT,
        updated_at=OCCURRED_AT + timedelta(minutes=2),
        occurrences=occurrences,
        escalation_level=escalation_level,
        acknowledged_by=acknowledged_by,
        note=note,
    )


def make_device_command() -> DeviceCommand:
    return DeviceCommand(
        command_id=COMMAND_ID,
        correlation_id=COMMAND_CASE_ID,
        device_id=GATE_ID,
        action="open",
        params={"seconds": 30, "reason": "move herd to pen 2"},
        requested_at=OCCURRED_AT,
        expires_at=OCCURRED_AT + timedelta(minutes=5),
        requested_by="farmer:anna",
    )


def make_command_ack() -> CommandAck:
    return CommandAck(
        command_id=COMMAND_ID,
        correlation_id=COMMAND_CASE_ID,
        device_id=GATE_ID,
        status=CommandStatus.DONE,
        detail="gate open",
        at=OCCURRED_AT + timedelta(seconds=3),
    )


def make_telemetry_sample() -> TelemetrySample:
    return TelemetrySample(
        source_id=DEVICE_ID,
        values={"water_level_pct": 41.5, "temperature_c": 18.25, "battery_v": 3.71},
        at=OCCURRED_AT,
    )


def make_system_sample() -> TelemetrySample:
    """Telemetry the appliance reports about itself (`telemetry.system`)."""
    return TelemetrySample(
        source_id=APPLIANCE_ID,
        values={"cpu_pct": 37.0, "disk_free_bytes": 52_428_800_000.0, "outbox_pending": 4.0},
        at=OCCURRED_AT,
    )


def make_enrolment_code_request() -> EnrolmentCodeRequest:
    return EnrolmentCodeRequest(farm_id=FARM_ID, ttl_seconds=3_600)


def make_enrolment_code() -> EnrolmentCode:
    return EnrolmentCode(
        code="K7QF-2MXA-9TRD", farm_id=FARM_ID, expires_at=OCCURRED_AT + timedelta(hours=1)
    )


def make_enrol_request() -> EnrolRequest:
    return EnrolRequest(
        code="K7QF-2MXA-9TRD",
        name="byre-barn-box-1",
        public_key="11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    )


def make_enrol_response() -> EnrolResponse:
    return EnrolResponse(
        appliance_id=APPLIANCE_ID,
        farm_id=FARM_ID,
        key_fingerprint="21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9",
    )


def make_rejected_event() -> RejectedEvent:
    return RejectedEvent(id="not-a-uuid", reason="id: Input should be a valid UUID")


def make_sync_batch_response() -> SyncBatchResponse:
    return SyncBatchResponse(
        batch_id=BATCH_ID,
        accepted=list(ACCEPTED_IDS),
        duplicates=[DUPLICATE_ID],
        rejected=[make_rejected_event()],
    )


def make_plugin_manifest() -> PluginManifest:
    """The heads-only SSD bundle that scripts/build-models writes (an `ssd-anchors` decoder)."""
    return PluginManifest(
        name="coco-ssd-mobilenet-v2-onnx",
        version="1.0.0",
        runtime="onnxruntime",
        model="model.onnx",
        labels="labels.txt",
        files=[
            BundleFile(path="model.onnx", sha256="3" * 64, size=67_405_178),
            BundleFile(path="labels.txt", sha256="34c1bc29" * 8),
        ],
        input=InputSpec(
            width=300,
            height=300,
            dtype="float32",
            mean=(127.5, 127.5, 127.5),
            scale=(1 / 127.5, 1 / 127.5, 1 / 127.5),
        ),
        decoder=SsdAnchorsDecoder(
            box_encodings="Squeeze",
            scores="Postprocessor/convert_scores",
            anchors="Concatenate/concat",
        ),
        thresholds=Thresholds(score=0.4, nms_iou=0.6, max_detections=100),
        report=["person", "dog", "horse", "sheep", "cow"],
        licence="Derived from SSD-MobileNet-v2 COCO (TF model zoo, Apache-2.0 upstream)",
    )


def make_media_record() -> MediaRecord:
    return MediaRecord(
        media_id=MEDIA_ID,
        incident_id=INCIDENT_ID,
        camera_id=CAMERA_ID,
        kind=MediaKind.CLIP,
        content_type="video/mp4",
        size_bytes=204_800,
        sha256="ab" * 32,
        started_at=OCCURRED_AT - timedelta(seconds=5),
        ended_at=OCCURRED_AT + timedelta(seconds=10),
    )


PAYLOADS: dict[EventType, Callable[[], ContractModel]] = {
    EventType.FARM_EVENT: make_farm_event,
    EventType.INCIDENT_OPENED: make_incident,
    EventType.INCIDENT_UPDATED: lambda: make_incident(occurrences=3),
    EventType.INCIDENT_ACKNOWLEDGED: lambda: make_incident(
        IncidentState.ACKNOWLEDGED, occurrences=3, acknowledged_by="farmer:anna"
    ),
    EventType.INCIDENT_ESCALATED: lambda: make_incident(occurrences=3, escalation_level=1),
    EventType.INCIDENT_RESOLVED: lambda: make_incident(
        IncidentState.RESOLVED,
        occurrences=3,
        acknowledged_by="farmer:anna",
        note="Neighbour's dog, returned to owner.",
    ),
    EventType.MEDIA_READY: make_media_record,
    EventType.TELEMETRY_DEVICE: make_telemetry_sample,
    EventType.TELEMETRY_SYSTEM: make_system_sample,
    EventType.COMMAND_REQUESTED: make_device_command,
    EventType.COMMAND_SENT: make_device_command,
    EventType.COMMAND_ACKNOWLEDGED: make_command_ack,
    EventType.COMMAND_TIMED_OUT: make_device_command,
}
"""The payload each event type carries in the examples."""

CORRELATIONS: dict[str, str] = {
    "incident": CASE_ID,
    "telemetry": f"telemetry:{DEVICE_ID}",
    "commands": COMMAND_CASE_ID,
}
"""Correlation id of the example envelopes, by event family."""


def make_envelope(event_type: EventType = EventType.FARM_EVENT, *, seq: int = 1) -> EventEnvelope:
    """An envelope of `event_type` carrying that type's example payload."""
    return EventEnvelope(
        id=EVENT_ID,
        type=event_type,
        farm_id=FARM_ID,
        appliance_id=APPLIANCE_ID,
        correlation_id=CORRELATIONS[event_type.value.split(".", 1)[0]],
        seq=seq,
        occurred_at=OCCURRED_AT,
        payload=PAYLOADS[event_type]().model_dump(mode="json"),
    )


def make_event_envelope() -> EventEnvelope:
    return make_envelope(EventType.FARM_EVENT)


def make_sync_batch_request() -> SyncBatchRequest:
    events: list[dict[str, JsonValue]] = [
        make_envelope(event_type, seq=seq).model_dump(mode="json")
        for seq, event_type in enumerate(
            (EventType.FARM_EVENT, EventType.INCIDENT_OPENED, EventType.TELEMETRY_DEVICE), start=1
        )
    ]
    return SyncBatchRequest(batch_id=BATCH_ID, appliance_id=APPLIANCE_ID, events=events)


def make_command_request() -> CommandRequest:
    """HQ asks central, over the bus, to open a gate on a farm."""
    return CommandRequest(farm_id=FARM_ID, command=make_device_command())


def make_desired_state() -> DesiredState:
    return DesiredState(
        farm_id=FARM_ID,
        version=42,
        config_version=3,
        config={"heat_stress_thi": 72, "night_mode": True},
        model_assignments=[
            ModelAssignment(name="coco-ssd-mobilenet-v2-onnx", version="1.0.0", sha256="3" * 64)
        ],
        commands=[make_device_command()],
    )


def make_reported_state() -> ReportedState:
    return ReportedState(
        appliance_id=APPLIANCE_ID,
        applied_version=42,
        config_version=3,
        commands=[
            CommandReport(correlation_id=COMMAND_CASE_ID, state=CommandProgress.DONE),
            CommandReport(
                correlation_id="cmd:fan-1:set_speed:0002",
                state=CommandProgress.FAILED,
                detail="unknown device 'fan-1'",
            ),
        ],
        models=[
            ModelReport(
                name="coco-ssd-mobilenet-v2-onnx", version="1.0.0", state=ModelState.ASSIGNED
            )
        ],
    )


def make_reported_state_response() -> ReportedStateResponse:
    return ReportedStateResponse(
        updated=[COMMAND_CASE_ID], unchanged=[], unknown=["cmd:fan-1:set_speed:0002"]
    )


EXAMPLES: dict[str, Callable[[], ContractModel]] = {
    "EventEnvelope": make_event_envelope,
    "FarmEvent": make_farm_event,
    "Incident": make_incident,
    "MediaRecord": make_media_record,
    "DeviceCommand": make_device_command,
    "CommandAck": make_command_ack,
    "TelemetrySample": make_telemetry_sample,
    "EnrolmentCodeRequest": make_enrolment_code_request,
    "EnrolmentCode": make_enrolment_code,
    "EnrolRequest": make_enrol_request,
    "EnrolResponse": make_enrol_response,
    "SyncBatchRequest": make_sync_batch_request,
    "SyncBatchResponse": make_sync_batch_response,
    "RejectedEvent": make_rejected_event,
    "PluginManifest": make_plugin_manifest,
    "CommandRequest": make_command_request,
    "DesiredState": make_desired_state,
    "ReportedState": make_reported_state,
    "ReportedStateResponse": make_reported_state_response,
}
"""A factory of a valid example for every message in `contracts.MESSAGES`."""


def example_json(name: str) -> dict[str, JsonValue]:
    """The example of message `name` as a JSON-compatible dict, ready to be mutated."""
    return EXAMPLES[name]().model_dump(mode="json")
