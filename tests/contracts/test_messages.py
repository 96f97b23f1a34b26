"""Every wire message round-trips through JSON, and malformed ones are rejected by field."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    MESSAGES,
    ContractError,
    EventEnvelope,
    EventType,
    FarmEvent,
    TelemetrySample,
    decode,
    new_id,
)
from contracts.envelope import PAYLOAD_MODELS
from contracts.sync import MAX_BATCH
from tests.contracts.examples import (
    EXAMPLES,
    OCCURRED_AT,
    PAYLOADS,
    example_json,
    make_envelope,
    make_farm_event,
    make_telemetry_sample,
)

Data = dict[str, Any]


def mutated(data: Data, **changes: Any) -> Data:
    return {**data, **changes}


def without(data: Data, key: str) -> Data:
    return {name: value for name, value in data.items() if name != key}


def with_payload(data: Data, **changes: Any) -> Data:
    return {**data, "payload": {**data["payload"], **changes}}


def envelope_json(event_type: EventType) -> Data:
    return make_envelope(event_type).model_dump(mode="json")


def manifest_decoder() -> Data:
    decoder = example_json(MANIFEST)["decoder"]
    assert isinstance(decoder, dict)
    return decoder


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


ENVELOPE = "EventEnvelope"
MANIFEST = "PluginManifest"
NAIVE = "2025-06-01T04:30:00"
BEFORE = "2025-05-31T04:30:00Z"


# (message name, malformed data, field the error must name)
MALFORMED: list[Any] = [
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), occurred_at=NAIVE),
        "occurred_at",
        id="envelope-naive-occurred_at",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), occurred_at="yesterday"),
        "occurred_at",
        id="envelope-occurred_at-not-a-time",
    ),
    pytest.param(
        ENVELOPE, lambda: mutated(example_json(ENVELOPE), seq=0), "seq", id="envelope-seq-0"
    ),
    pytest.param(
        ENVELOPE, lambda: mutated(example_json(ENVELOPE), seq=-5), "seq", id="envelope-seq-negative"
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), type="incident.exploded"),
        "type",
        id="envelope-unknown-type",
    ),
    pytest.param(
        ENVELOPE,
        lambda: with_payload(example_json(ENVELOPE), kind="unicorn"),
        "payload.kind",
        id="envelope-farm-event-bad-kind",
    ),
    pytest.param(
        ENVELOPE,
        lambda: with_payload(example_json(ENVELOPE), summary=""),
        "payload.summary",
        id="envelope-farm-event-empty-summary",
    ),
    pytest.param(
        ENVELOPE,
        lambda: with_payload(example_json(ENVELOPE), colour="red"),
        "payload.colour",
        id="envelope-farm-event-unknown-key",
    ),
    pytest.param(
        ENVELOPE,
        lambda: with_payload(envelope_json(EventType.TELEMETRY_DEVICE), values={}),
        "payload.values",
        id="envelope-telemetry-empty-values",
    ),
    pytest.param(
        ENVELOPE,
        lambda: with_payload(envelope_json(EventType.COMMAND_REQUESTED), expires_at=BEFORE),
        "payload.expires_at",
        id="envelope-command-expires-before-requested",
    ),
    pytest.param(
        ENVELOPE,
        lambda: with_payload(envelope_json(EventType.INCIDENT_OPENED), updated_at=BEFORE),
        "payload.updated_at",
        id="envelope-incident-updated-before-opened",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), payload=[]),
        "payload",
        id="envelope-payload-not-an-object",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), farm_id="farm/7"),
        "farm_id",
        id="envelope-farm_id-with-slash",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), farm_id=""),
        "farm_id",
        id="envelope-farm_id-empty",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), farm_id="f" * 65),
        "farm_id",
        id="envelope-farm_id-too-long",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), farm_id="farm-7\n"),
        "farm_id",
        id="envelope-farm_id-trailing-newline",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), appliance_id="box+1"),
        "appliance_id",
        id="envelope-appliance_id-with-plus",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), id="not-a-uuid"),
        "id",
        id="envelope-id-not-a-uuid",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), schema_version=2),
        "schema_version",
        id="envelope-future-schema-version",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), correlation_id=""),
        "correlation_id",
        id="envelope-empty-correlation_id",
    ),
    pytest.param(
        ENVELOPE,
        lambda: without(example_json(ENVELOPE), "correlation_id"),
        "correlation_id",
        id="envelope-missing-correlation_id",
    ),
    pytest.param(
        ENVELOPE,
        lambda: mutated(example_json(ENVELOPE), priority="high"),
        "priority",
        id="envelope-unknown-top-level-key",
    ),
    pytest.param(
        "FarmEvent",
        lambda: mutated(example_json("FarmEvent"), kind="unicorn"),
        "kind",
        id="farm-event-bad-kind",
    ),
    pytest.param(
        "FarmEvent",
        lambda: mutated(example_json("FarmEvent"), track_id=-1),
        "track_id",
        id="farm-event-negative-track",
    ),
    pytest.param(
        "FarmEvent",
        lambda: mutated(example_json("FarmEvent"), camera_id="cam/1"),
        "camera_id",
        id="farm-event-camera_id-with-slash",
    ),
    pytest.param(
        "FarmEvent",
        lambda: mutated(example_json("FarmEvent"), labels=["dog", ""]),
        "labels.1",
        id="farm-event-empty-label",
    ),
    pytest.param(
        "Incident",
        lambda: mutated(example_json("Incident"), updated_at=BEFORE),
        "updated_at",
        id="incident-updated-before-opened",
    ),
    pytest.param(
        "Incident",
        lambda: mutated(example_json("Incident"), occurrences=0),
        "occurrences",
        id="incident-zero-occurrences",
    ),
    pytest.param(
        "Incident",
        lambda: mutated(example_json("Incident"), state="closed"),
        "state",
        id="incident-unknown-state",
    ),
    pytest.param(
        "Incident",
        lambda: mutated(example_json("Incident"), opened_at=NAIVE),
        "opened_at",
        id="incident-naive-opened_at",
    ),
    pytest.param(
        "MediaRecord",
        lambda: mutated(example_json("MediaRecord"), sha256="not-a-digest"),
        "sha256",
        id="media-bad-sha256",
    ),
    pytest.param(
        "MediaRecord",
        lambda: mutated(example_json("MediaRecord"), kind="audio"),
        "kind",
        id="media-unknown-kind",
    ),
    pytest.param(
        "MediaRecord",
        lambda: mutated(example_json("MediaRecord"), size_bytes=0),
        "size_bytes",
        id="media-empty-file",
    ),
    pytest.param(
        "DeviceCommand",
        lambda: mutated(example_json("DeviceCommand"), expires_at=BEFORE),
        "expires_at",
        id="command-expires-before-requested",
    ),
    pytest.param(
        "DeviceCommand",
        lambda: mutated(
            example_json("DeviceCommand"), expires_at=example_json("DeviceCommand")["requested_at"]
        ),
        "expires_at",
        id="command-expires-when-requested",
    ),
    pytest.param(
        "DeviceCommand",
        lambda: mutated(example_json("DeviceCommand"), action="Open Gate"),
        "action",
        id="command-bad-action-name",
    ),
    pytest.param(
        "DeviceCommand",
        lambda: mutated(example_json("DeviceCommand"), device_id="gate/2"),
        "device_id",
        id="command-device_id-with-slash",
    ),
    pytest.param(
        "DeviceCommand",
        lambda: mutated(example_json("DeviceCommand"), requested_at=NAIVE),
        "requested_at",
        id="command-naive-requested_at",
    ),
    pytest.param(
        "DeviceCommand",
        lambda: mutated(example_json("DeviceCommand"), requested_by=""),
        "requested_by",
        id="command-empty-requested_by",
    ),
    pytest.param(
        "CommandAck",
        lambda: mutated(example_json("CommandAck"), status="maybe"),
        "status",
        id="ack-unknown-status",
    ),
    pytest.param(
        "CommandAck",
        lambda: mutated(example_json("CommandAck"), command_id="42"),
        "command_id",
        id="ack-command_id-not-a-uuid",
    ),
    pytest.param(
        "CommandAck",
        lambda: mutated(example_json("CommandAck"), detail="x" * 501),
        "detail",
        id="ack-detail-too-long",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), values={"temperature_c": float("nan")}),
        "values",
        id="telemetry-nan",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), values={"temperature_c": float("inf")}),
        "values",
        id="telemetry-infinity",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), values={"temperature_c": -float("inf")}),
        "values",
        id="telemetry-minus-infinity",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), values={}),
        "values",
        id="telemetry-empty-values",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), values={f"m{i}": 1.0 for i in range(65)}),
        "values",
        id="telemetry-too-many-values",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), values={"temperature_c": "warm"}),
        "values.temperature_c",
        id="telemetry-value-not-a-number",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), values={"Temp-C": 18.0}),
        "values.Temp-C.[key]",
        id="telemetry-bad-metric-name",
    ),
    pytest.param(
        "TelemetrySample",
        lambda: mutated(example_json("TelemetrySample"), source_id="#"),
        "source_id",
        id="telemetry-source_id-wildcard",
    ),
    pytest.param(
        "EnrolmentCodeRequest",
        lambda: mutated(example_json("EnrolmentCodeRequest"), ttl_seconds=59),
        "ttl_seconds",
        id="enrolment-code-request-ttl-too-short",
    ),
    pytest.param(
        "EnrolmentCodeRequest",
        lambda: mutated(example_json("EnrolmentCodeRequest"), farm_id="farm 7"),
        "farm_id",
        id="enrolment-code-request-farm_id-with-space",
    ),
    pytest.param(
        "EnrolmentCode",
        lambda: mutated(example_json("EnrolmentCode"), code="short"),
        "code",
        id="enrolment-code-too-short",
    ),
    pytest.param(
        "EnrolmentCode",
        lambda: mutated(example_json("EnrolmentCode"), expires_at=NAIVE),
        "expires_at",
        id="enrolment-code-naive-expiry",
    ),
    pytest.param(
        "EnrolRequest",
        lambda: mutated(example_json("EnrolRequest"), name=""),
        "name",
        id="enrol-request-empty-name",
    ),
    pytest.param(
        "EnrolRequest",
        lambda: mutated(example_json("EnrolRequest"), code="c" * 65),
        "code",
        id="enrol-request-code-too-long",
    ),
    pytest.param(
        "EnrolResponse",
        lambda: mutated(example_json("EnrolResponse"), key_fingerprint="f" * 63),
        "key_fingerprint",
        id="enrol-response-key-fingerprint-too-short",
    ),
    pytest.param(
        "EnrolResponse",
        lambda: mutated(example_json("EnrolResponse"), appliance_id="a/b"),
        "appliance_id",
        id="enrol-response-appliance_id-with-slash",
    ),
    pytest.param(
        "SyncBatchRequest",
        lambda: mutated(example_json("SyncBatchRequest"), events=[]),
        "events",
        id="batch-with-zero-events",
    ),
    pytest.param(
        "SyncBatchRequest",
        lambda: mutated(
            example_json("SyncBatchRequest"),
            events=[example_json(ENVELOPE)] * (MAX_BATCH + 1),
        ),
        "events",
        id="batch-over-max-size",
    ),
    pytest.param(
        "SyncBatchRequest",
        lambda: mutated(example_json("SyncBatchRequest"), events=["event"]),
        "events.0",
        id="batch-event-not-an-object",
    ),
    pytest.param(
        "SyncBatchRequest",
        lambda: without(example_json("SyncBatchRequest"), "batch_id"),
        "batch_id",
        id="batch-missing-batch_id",
    ),
    pytest.param(
        "SyncBatchResponse",
        lambda: mutated(example_json("SyncBatchResponse"), accepted=["nope"]),
        "accepted.0",
        id="batch-response-accepted-not-a-uuid",
    ),
    pytest.param(
        "SyncBatchResponse",
        lambda: mutated(example_json("SyncBatchResponse"), rejected=[{"id": "x"}]),
        "rejected.0.reason",
        id="batch-response-rejection-without-reason",
    ),
    pytest.param(
        "RejectedEvent",
        lambda: without(example_json("RejectedEvent"), "reason"),
        "reason",
        id="rejected-event-without-reason",
    ),
    pytest.param(
        "RejectedEvent",
        lambda: mutated(example_json("RejectedEvent"), retry=True),
        "retry",
        id="rejected-event-unknown-key",
    ),
    pytest.param(
        MANIFEST,
        lambda: mutated(example_json(MANIFEST), decoder={"type": "nanodet-plus"}),
        "decoder",
        id="manifest-unknown-decoder-type",
    ),
    pytest.param(
        MANIFEST,
        lambda: mutated(
            example_json(MANIFEST),
            decoder={**manifest_decoder(), "scale_factors": [10, 10, 0, 5]},
        ),
        "decoder.ssd-anchors.scale_factors",
        id="manifest-ssd-anchors-zero-scale-factor",
    ),
    pytest.param(
        MANIFEST,
        lambda: mutated(
            example_json(MANIFEST),
            decoder=without(manifest_decoder(), "anchors"),
        ),
        "decoder.ssd-anchors.anchors",
        id="manifest-ssd-anchors-without-anchors-output",
    ),
    pytest.param(
        MANIFEST,
        lambda: mutated(example_json(MANIFEST), files=[{"path": "model.onnx", "sha256": "abc"}]),
        "files.0.sha256",
        id="manifest-short-sha256",
    ),
    pytest.param(
        MANIFEST,
        lambda: mutated(
            example_json(MANIFEST), files=[{"path": "../model.onnx", "sha256": "0" * 64}]
        ),
        "files.0.path",
        id="manifest-path-escapes-bundle",
    ),
    pytest.param(
        MANIFEST,
        lambda: mutated(example_json(MANIFEST), runtime="tensorflow"),
        "runtime",
        id="manifest-unknown-runtime",
    ),
    pytest.param(
        MANIFEST,
        lambda: mutated(example_json(MANIFEST), model="other.onnx"),
        "(message)",
        id="manifest-model-not-listed-in-files",
    ),
    pytest.param(
        "CommandRequest",
        lambda: mutated(example_json("CommandRequest"), farm_id="farm/7"),
        "farm_id",
        id="command-request-farm_id-with-slash",
    ),
    pytest.param(
        "CommandRequest",
        lambda: without(example_json("CommandRequest"), "command"),
        "command",
        id="command-request-without-command",
    ),
    pytest.param(
        "DesiredState",
        lambda: mutated(example_json("DesiredState"), version=-1),
        "version",
        id="desired-negative-version",
    ),
    pytest.param(
        "DesiredState",
        lambda: mutated(
            example_json("DesiredState"),
            model_assignments=[{"name": "coco", "version": "latest"}],
        ),
        "model_assignments.0.version",
        id="desired-model-version-not-semver",
    ),
    pytest.param(
        "DesiredState",
        lambda: mutated(
            example_json("DesiredState"),
            commands=[{**example_json("DeviceCommand"), "requested_at": NAIVE}],
        ),
        "commands.0.requested_at",
        id="desired-command-naive-time",
    ),
    pytest.param(
        "ReportedState",
        lambda: mutated(
            example_json("ReportedState"),
            commands=[{"correlation_id": "cmd:1", "state": "pending"}],
        ),
        "commands.0.state",
        id="reported-command-state-not-farm-progress",
    ),
    pytest.param(
        "ReportedState",
        lambda: mutated(
            example_json("ReportedState"),
            commands=[{"correlation_id": "", "state": "done"}],
        ),
        "commands.0.correlation_id",
        id="reported-empty-correlation-id",
    ),
    pytest.param(
        "ReportedState",
        lambda: mutated(example_json("ReportedState"), applied_version="latest"),
        "applied_version",
        id="reported-version-not-a-number",
    ),
    pytest.param(
        "ReportedStateResponse",
        lambda: without(example_json("ReportedStateResponse"), "unknown"),
        "unknown",
        id="reported-response-without-unknown",
    ),
]

MALFORMED_NAMES = {param.values[0] for param in MALFORMED}


def test_every_message_has_an_example():
    assert set(EXAMPLES) == set(MESSAGES)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_example_factory_is_named_after_its_message(name):
    assert EXAMPLES[name].__name__ == f"make_{_snake(name)}"


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_example_is_an_instance_of_its_message(name):
    assert type(EXAMPLES[name]()) is MESSAGES[name]


def test_every_message_has_a_malformed_case():
    assert set(MESSAGES) == MALFORMED_NAMES


def test_every_event_type_has_an_example_payload():
    assert set(PAYLOADS) == set(EventType)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_round_trips_through_json_text(name):
    example = EXAMPLES[name]()
    assert decode(MESSAGES[name], example.model_dump_json()) == example


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_round_trips_through_json_bytes(name):
    example = EXAMPLES[name]()
    assert decode(MESSAGES[name], example.model_dump_json().encode()) == example


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_round_trips_through_json_compatible_dict(name):
    example = EXAMPLES[name]()
    text = json.dumps(example.model_dump(mode="json"))
    assert MESSAGES[name].model_validate(json.loads(text)) == example


@pytest.mark.parametrize("event_type", list(EventType))
def test_envelope_of_every_event_type_round_trips(event_type):
    envelope = make_envelope(event_type)
    assert decode(EventEnvelope, envelope.model_dump_json()) == envelope
    text = json.dumps(envelope.model_dump(mode="json"))
    assert EventEnvelope.model_validate(json.loads(text)) == envelope


@pytest.mark.parametrize("event_type", list(EventType))
def test_envelope_payload_parses_into_the_model_registered_for_its_type(event_type):
    payload = decode(EventEnvelope, make_envelope(event_type).model_dump_json()).typed_payload()
    assert type(payload) is PAYLOAD_MODELS[event_type]
    assert payload == PAYLOADS[event_type]()


# For each event type, a payload of another model: a telemetry sample where a farm event
# belongs, and a farm event everywhere else.
FOREIGN_PAYLOADS = [
    pytest.param(
        event_type,
        make_telemetry_sample if PAYLOAD_MODELS[event_type] is FarmEvent else make_farm_event,
        id=event_type.value,
    )
    for event_type in EventType
]


@pytest.mark.parametrize(("event_type", "make_payload"), FOREIGN_PAYLOADS)
def test_envelope_with_payload_of_another_type_is_rejected_naming_the_payload(
    event_type, make_payload
):
    data = mutated(envelope_json(event_type), payload=make_payload().model_dump(mode="json"))
    with pytest.raises(ContractError) as caught:
        decode(EventEnvelope, data)
    assert caught.value.field.split(".")[0] == "payload"


@pytest.mark.parametrize(("name", "make_data", "field"), MALFORMED)
def test_malformed_message_is_rejected_naming_the_field(name, make_data, field):
    with pytest.raises(ContractError) as caught:
        decode(MESSAGES[name], make_data())
    assert caught.value.field == field


@pytest.mark.parametrize(("name", "make_data", "field"), MALFORMED)
def test_malformed_message_as_json_text_is_rejected_naming_the_field(name, make_data, field):
    with pytest.raises(ContractError) as caught:
        decode(MESSAGES[name], json.dumps(make_data()))
    assert caught.value.field == field


def test_envelope_with_naive_time_is_rejected_naming_field():
    with pytest.raises(ContractError, match="occurred_at") as caught:
        decode(EventEnvelope, mutated(example_json(ENVELOPE), occurred_at=NAIVE))
    assert caught.value.field == "occurred_at"
    assert caught.value.reason


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{not json", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param('{"id": }', id="missing-value"),
        pytest.param("null", id="null"),
        pytest.param("[]", id="array"),
        pytest.param('"EventEnvelope"', id="string"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    ],
)
def test_text_that_is_not_a_json_object_is_rejected_as_a_whole_message(text):
    with pytest.raises(ContractError) as caught:
        decode(EventEnvelope, text)
    assert caught.value.field == "(message)"


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_truncated_json_of_every_message_is_rejected(name):
    text = EXAMPLES[name]().model_dump_json()
    with pytest.raises(ContractError) as caught:
        decode(MESSAGES[name], text[:-1])
    assert caught.value.field == "(message)"


def test_contract_error_is_a_value_error_carrying_field_and_reason():
    error = ContractError("must be positive", field="seq")
    assert isinstance(error, ValueError)
    assert (str(error), error.field, error.reason) == (
        "seq: must be positive",
        "seq",
        "must be positive",
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2025-06-01T07:30:12.25+03:00", id="plus-03"),
        pytest.param("2025-05-31T23:00:12.25-05:30", id="minus-05-30"),
        pytest.param("2025-06-01T04:30:12.25Z", id="zulu"),
        pytest.param("2025-06-01T04:30:12.250+00:00", id="plus-00"),
    ],
)
def test_envelope_time_with_offset_is_normalised_to_utc(text):
    envelope = decode(EventEnvelope, mutated(example_json(ENVELOPE), occurred_at=text))
    assert envelope.occurred_at == OCCURRED_AT
    assert envelope.occurred_at.tzinfo is UTC
    assert json.loads(envelope.model_dump_json())["occurred_at"] == "2025-06-01T04:30:12.250000Z"


TIMESTAMP_FIELDS = [
    ("EventEnvelope", "occurred_at"),
    ("Incident", "opened_at"),
    ("Incident", "updated_at"),
    ("DeviceCommand", "requested_at"),
    ("DeviceCommand", "expires_at"),
    ("CommandAck", "at"),
    ("TelemetrySample", "at"),
    ("EnrolmentCode", "expires_at"),
]
PLUS_THREE = timezone(timedelta(hours=3))


@pytest.mark.parametrize(("name", "field"), TIMESTAMP_FIELDS)
def test_every_timestamp_given_with_an_offset_is_stored_as_the_same_instant_in_utc(name, field):
    data = example_json(name)
    data[field] = datetime.fromisoformat(str(data[field])).astimezone(PLUS_THREE).isoformat()
    message = decode(MESSAGES[name], data)
    assert getattr(message, field).tzinfo is UTC
    assert message == EXAMPLES[name]()


offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
)


@settings(max_examples=200)
@given(aware_times)
def test_any_aware_time_round_trips_as_the_same_instant_in_utc(occurred_at):
    envelope = decode(
        EventEnvelope, mutated(example_json(ENVELOPE), occurred_at=occurred_at.isoformat())
    )
    assert envelope.occurred_at == occurred_at
    assert envelope.occurred_at.utcoffset() == timedelta(0)
    assert decode(EventEnvelope, envelope.model_dump_json()) == envelope


metric_names = st.from_regex(r"^[a-z][a-z0-9_]{0,63}$", fullmatch=True)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


@given(st.dictionaries(metric_names, finite_floats, min_size=1, max_size=8))
def test_any_finite_telemetry_values_round_trip_exactly(values):
    sample = TelemetrySample(source_id="trough-3", values=values)
    assert decode(TelemetrySample, sample.model_dump_json()).values == values


def test_new_ids_are_uuid_version_7():
    ids = [new_id() for _ in range(100)]
    assert {value.version for value in ids} == {7}
    assert {value.variant for value in ids} == {uuid.RFC_4122}


def test_new_ids_sort_in_creation_order():
    generated = [new_id() for _ in range(1000)]
    assert sorted(generated) == generated
    assert sorted(generated, key=str) == generated  # also where ids are stored as text
    assert len(set(generated)) == len(generated)


def test_new_id_carries_its_creation_time_in_milliseconds():
    previous = new_id().int >> 80
    before = time.time_ns() // 1_000_000
    stamp = new_id().int >> 80
    after = time.time_ns() // 1_000_000
    # uuid6 keeps ids monotonic by stepping 1 ms past the previous id while the clock has not
    # moved on, so after a burst of ids the stamp runs ahead of the wall clock, never behind it.
    assert before <= stamp <= max(after, previous + 1)
