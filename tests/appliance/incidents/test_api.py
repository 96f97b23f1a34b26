"""Incidents through the appliance's local API, with the engine running in the app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import API_TOKEN, MakeAppliance, eventually

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
EVENT = {"kind": "predator", "severity": "critical", "summary": "dog near the sheep"}


async def open_incident(client: httpx.AsyncClient) -> dict[str, Any]:
    reply = await client.post(
        "/api/v1/events",
        json={"correlation_id": "cam-2:predator:pasture", "event": EVENT},
        headers=AUTH,
    )
    assert reply.status_code == 201
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        found[:] = (await client.get("/api/v1/incidents", headers=AUTH)).json()["items"]
        return len(found) == 1

    await eventually(listed)
    return found[0]


async def test_event_opens_incident_that_can_be_acknowledged_and_resolved(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        incident = await open_incident(client)
        path = f"/api/v1/incidents/{incident['incident_id']}"
        acked = await client.post(f"{path}/acknowledge", json={"by": "anna"}, headers=AUTH)
        resolved = await client.post(
            f"{path}/resolve", json={"by": "anna", "note": "dog chased off"}, headers=AUTH
        )
        again = await client.post(f"{path}/acknowledge", json={"by": "anna"}, headers=AUTH)
        open_now = await client.get("/api/v1/incidents", params={"state": "open"}, headers=AUTH)

    assert incident["state"] == "open"
    assert incident["kind"] == "predator"
    assert acked.json()["state"] == "acknowledged"
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["note"] == "dog chased off"
    assert again.status_code == 409
    assert open_now.json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/incidents/01990000-0000-7000-8000-000000000000", 404),
        ("GET", "/api/v1/incidents/not-a-uuid", 400),
        ("GET", "/api/v1/incidents?state=sleeping", 400),
        ("GET", "/api/v1/incidents?before=xyz", 400),
        ("POST", "/api/v1/incidents/01990000-0000-7000-8000-000000000000/acknowledge", 404),
    ],
)
async def test_bad_incident_requests_get_clear_errors(
    make_appliance: MakeAppliance, method: str, path: str, status: int
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        reply = await client.request(method, path, json={"by": "x"}, headers=AUTH)
    assert reply.status_code == status
    assert reply.json()["error"]


async def test_acknowledge_needs_the_technician_token(make_appliance: MakeAppliance) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        incident = await open_incident(client)
        reply = await client.post(
            f"/api/v1/incidents/{incident['incident_id']}/acknowledge", json={"by": "x"}
        )
    assert reply.status_code == 401
