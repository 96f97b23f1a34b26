"""JSON Schema export: a schema per message that examples satisfy and malformed data fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError
from typer.testing import CliRunner

from cli.main import app
from contracts import MESSAGES, SCHEMA_VERSION, EventType
from contracts.schema import SCHEMA_BASE_URI, export_schemas, json_schema
from tests.contracts.examples import EXAMPLES, example_json, make_envelope


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("schemas")
    export_schemas(directory)
    return directory


def validator_for(schema_dir: Path, name: str) -> Draft202012Validator:
    schema = json.loads((schema_dir / f"{name}.schema.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_export_writes_one_schema_file_per_message(tmp_path):
    written = export_schemas(tmp_path / "out")
    expected = {f"{name}.schema.json" for name in MESSAGES}
    assert {path.name for path in written} == expected
    assert {path.name for path in (tmp_path / "out").iterdir()} == expected


def test_export_into_an_existing_directory_overwrites_its_schemas(tmp_path):
    first = {path: path.read_text() for path in export_schemas(tmp_path)}
    second = {path: path.read_text() for path in export_schemas(tmp_path)}
    assert first == second


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_exported_schema_is_a_valid_draft_2020_12_schema_with_a_versioned_id(schema_dir, name):
    schema = json.loads((schema_dir / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{SCHEMA_BASE_URI}/v{SCHEMA_VERSION}/{name}.schema.json"
    assert schema == json_schema(name)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_example_of_every_message_satisfies_its_exported_schema(schema_dir, name):
    validator_for(schema_dir, name).validate(EXAMPLES[name]().model_dump(mode="json"))


@pytest.mark.parametrize("event_type", list(EventType))
def test_envelope_of_every_event_type_satisfies_the_envelope_schema(schema_dir, event_type):
    envelope = make_envelope(event_type).model_dump(mode="json")
    validator_for(schema_dir, "EventEnvelope").validate(envelope)


def _changed(name: str, /, **changes: Any) -> dict[str, Any]:
    return {**example_json(name), **changes}


def _missing(name: str, key: str) -> dict[str, Any]:
    return {k: v for k, v in example_json(name).items() if k != key}


MALFORMED = [
    pytest.param("EventEnvelope", _changed("EventEnvelope", seq=0), id="envelope-seq-0"),
    pytest.param(
        "EventEnvelope", _changed("EventEnvelope", type="incident.exploded"), id="envelope-type"
    ),
    pytest.param(
        "EventEnvelope", _changed("EventEnvelope", farm_id="farm/7"), id="envelope-farm_id-slash"
    ),
    pytest.param(
        "EventEnvelope", _changed("EventEnvelope", id="not-a-uuid"), id="envelope-id-not-a-uuid"
    ),
    pytest.param(
        "EventEnvelope", _changed("EventEnvelope", schema_version=2), id="envelope-version-2"
    ),
    pytest.param(
        "EventEnvelope", _changed("EventEnvelope", priority="high"), id="envelope-unknown-key"
    ),
    pytest.param(
        "EventEnvelope", _missing("EventEnvelope", "payload"), id="envelope-without-payload"
    ),
    pytest.param("FarmEvent", _changed("FarmEvent", kind="unicorn"), id="farm-event-kind"),
    pytest.param("Incident", _changed("Incident", occurrences=0), id="incident-occurrences-0"),
    pytest.param("MediaRecord", _changed("MediaRecord", size_bytes=0), id="media-size-0"),
    pytest.param(
        "DeviceCommand", _changed("DeviceCommand", action="Open Gate"), id="command-action"
    ),
    pytest.param("CommandAck", _changed("CommandAck", status="maybe"), id="ack-status"),
    pytest.param(
        "TelemetrySample", _changed("TelemetrySample", values={}), id="telemetry-empty-values"
    ),
    pytest.param(
        "TelemetrySample",
        _changed("TelemetrySample", values={"temperature_c": "warm"}),
        id="telemetry-value-not-a-number",
    ),
    pytest.param(
        "EnrolmentCodeRequest",
        _changed("EnrolmentCodeRequest", ttl_seconds=59),
        id="enrolment-code-request-ttl",
    ),
    pytest.param("EnrolmentCode", _changed("EnrolmentCode", code="short"), id="enrolment-code"),
    pytest.param("EnrolRequest", _changed("EnrolRequest", name=""), id="enrol-request-name"),
    pytest.param(
        "EnrolResponse", _changed("EnrolResponse", key_fingerprint="t"), id="enrol-response-key"
    ),
    pytest.param(
        "SyncBatchRequest", _changed("SyncBatchRequest", events=[]), id="batch-zero-events"
    ),
    pytest.param(
        "SyncBatchResponse",
        _changed("SyncBatchResponse", accepted=["nope"]),
        id="batch-response-accepted-not-a-uuid",
    ),
    pytest.param("RejectedEvent", _missing("RejectedEvent", "reason"), id="rejected-no-reason"),
    pytest.param(
        "PluginManifest", _changed("PluginManifest", runtime="tensorflow"), id="manifest-runtime"
    ),
    pytest.param(
        "CommandRequest", _changed("CommandRequest", farm_id="farm/7"), id="command-request-farm"
    ),
    pytest.param("DesiredState", _changed("DesiredState", version=-1), id="desired-version"),
    pytest.param(
        "ReportedState", _missing("ReportedState", "applied_version"), id="reported-no-version"
    ),
    pytest.param(
        "ReportedStateResponse",
        _changed("ReportedStateResponse", updated=[""]),
        id="reported-response-empty-id",
    ),
]


def test_every_message_has_a_malformed_case_for_its_schema():
    assert {param.values[0] for param in MALFORMED} == set(MESSAGES)


@pytest.mark.parametrize(("name", "data"), MALFORMED)
def test_malformed_message_fails_its_exported_schema(schema_dir, name, data):
    with pytest.raises(ValidationError):
        validator_for(schema_dir, name).validate(data)


def test_cli_export_writes_the_same_schemas_and_exits_zero(tmp_path):
    result = CliRunner().invoke(app, ["contracts", "export", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    expected = {path.name: path.read_text() for path in export_schemas(tmp_path / "direct")}
    written = {path.name: path.read_text() for path in (tmp_path / "cli").iterdir()}
    assert written == expected
    assert f"wrote {len(MESSAGES)} schemas" in result.output
