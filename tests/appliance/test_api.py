"""The appliance's local API over real HTTP: auth, validation, recording."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import API_TOKEN, MakeAppliance

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
EVENT = {"kind": "predator", "severity": "critical", "summary": "dog near sheep"}


async def test_recorded_event_is_committed_and_listed(make_appliance: MakeAppliance) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        created = await client.post(
            "/api/v1/events", json={"correlation_id": "cam:predator", "event": EVENT}, headers=AUTH
        )
        listed = await client.get("/api/v1/events", headers=AUTH)
        status = await client.get("/api/v1/status", headers=AUTH)

    assert created.status_code == 201
    assert created.json()["seq"] == 1
    assert [e["id"] for e in listed.json()["items"]] == [created.json()["id"]]
    assert status.json()["outbox"]["pending"] == 1
    assert status.json()["enrolled"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"correlation_id": "c", "event": {**EVENT, "kind": "ufo"}}, "event.kind"),
        ({"correlation_id": "c", "event": {**EVENT, "camera_id": "a/b"}}, "event.camera_id"),
        ({"correlation_id": "", "event": EVENT}, "correlation_id"),
        ({"event": EVENT}, "correlation_id"),
        ({"correlation_id": "c", "event": EVENT, "extra": 1}, "extra"),
    ],
)
async def test_malformed_event_gets_400_naming_field_and_records_nothing(
    make_appliance: MakeAppliance, body: dict[str, Any], field: str
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        reply = await client.post("/api/v1/events", json=body, headers=AUTH)
        listed = await client.get("/api/v1/events", headers=AUTH)

    assert reply.status_code == 400
    assert reply.json()["field"] == field
    assert listed.json()["items"] == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_writes_without_the_technician_token_are_refused(
    make_appliance: MakeAppliance, headers: dict[str, str]
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        recorded = await client.post(
            "/api/v1/events", json={"correlation_id": "c", "event": EVENT}, headers=headers
        )
        enrolled = await client.post(
            "/api/v1/enrolment",
            json={"server_url": "http://127.0.0.1:1", "code": "ABCD-EFGH-JKLM"},
            headers=headers,
        )
    assert (recorded.status_code, enrolled.status_code) == (401, 401)


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("after_seq=-1", "after_seq")])
async def test_bad_paging_parameters_get_400(
    make_appliance: MakeAppliance, query: str, field: str
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        reply = await client.get(f"/api/v1/events?{query}", headers=AUTH)
    assert reply.status_code == 400
    assert reply.json()["field"] == field


async def test_enrolment_with_unreachable_central_is_a_502_and_changes_nothing(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        reply = await client.post(
            "/api/v1/enrolment",
            json={"server_url": "http://127.0.0.1:9", "code": "ABCD-EFGH-JKLM"},
            headers=AUTH,
        )
        status = await client.get("/api/v1/status", headers=AUTH)
    assert reply.status_code == 502
    assert "cannot reach central" in reply.json()["error"]
    assert status.json()["enrolled"] is False
