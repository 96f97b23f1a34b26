"""Central's enrolment and sync API, against real servers on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contracts import EventType, FarmEvent, FarmEventKind, Severity, new_id
from tests.conftest import ADMIN_TOKEN, MakeCentral

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def enrol(client: httpx.AsyncClient, farm_id: str = "farm-a") -> dict[str, Any]:
    code = await client.post("/api/v1/enrolment-codes", json={"farm_id": farm_id}, headers=ADMIN)
    assert code.status_code == 201, code.text
    reply = await client.post(
        "/api/v1/enroll", json={"code": code.json()["code"], "name": "barn-box"}
    )
    assert reply.status_code == 201, reply.text
    body: dict[str, Any] = reply.json()
    return body


def make_event(identity: dict[str, Any], seq: int, **changes: Any) -> dict[str, Any]:
    event = FarmEvent(kind=FarmEventKind.INTRUDER, severity=Severity.CRITICAL, summary="person")
    envelope: dict[str, Any] = {
        "id": str(new_id()),
        "type": EventType.FARM_EVENT.value,
        "schema_version": 1,
        "farm_id": identity["farm_id"],
        "appliance_id": identity["appliance_id"],
        "correlation_id": "cam-1:intruder:gate",
        "seq": seq,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": event.model_dump(mode="json"),
    }
    envelope.update(changes)
    return envelope


def batch(identity: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"batch_id": str(new_id()), "appliance_id": identity["appliance_id"], "events": events}


async def central_events(client: httpx.AsyncClient, farm_id: str) -> list[dict[str, Any]]:
    reply = await client.get("/api/v1/events", params={"farm_id": farm_id}, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def test_same_batch_twice_stores_each_event_once(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client)
        auth = {"Authorization": f"Bearer {identity['token']}"}
        events = [make_event(identity, seq) for seq in (1, 2, 3)]
        body = batch(identity, events)

        first = await client.post("/api/v1/sync/events", json=body, headers=auth)
        second = await client.post("/api/v1/sync/events", json=body, headers=auth)

        assert first.status_code == second.status_code == 200
        ids = [e["id"] for e in events]
        assert first.json()["accepted"] == ids
        assert first.json()["duplicates"] == []
        assert second.json()["accepted"] == []
        assert second.json()["duplicates"] == ids
        stored = await central_events(client, identity["farm_id"])
        assert [e["id"] for e in stored] == ids


async def test_event_for_another_farm_is_rejected_alone(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client, "farm-a")
        await enrol(client, "farm-b")
        auth = {"Authorization": f"Bearer {identity['token']}"}
        good = make_event(identity, 1)
        foreign = make_event(identity, 2, farm_id="farm-b")
        malformed = make_event(identity, 3, occurred_at="2026-01-01T00:00:00")

        reply = await client.post(
            "/api/v1/sync/events", json=batch(identity, [good, foreign, malformed]), headers=auth
        )

        assert reply.status_code == 200
        body = reply.json()
        assert body["accepted"] == [good["id"]]
        reasons = {r["id"]: r["reason"] for r in body["rejected"]}
        assert reasons[foreign["id"]].startswith("farm_id")
        assert reasons[malformed["id"]].startswith("occurred_at")
        assert await central_events(client, "farm-b") == []


async def test_enrolment_code_works_once(make_central: MakeCentral, database_url: str) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        code = await client.post("/api/v1/enrolment-codes", json={"farm_id": "f"}, headers=ADMIN)
        body = {"code": code.json()["code"], "name": "box"}

        first = await client.post("/api/v1/enroll", json=body)
        second = await client.post("/api/v1/enroll", json=body)

        assert first.status_code == 201
        assert second.status_code == 400
        assert "used" in second.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer not-a-real-token"}, 401)],
)
async def test_sync_without_valid_credential_is_refused(
    make_central: MakeCentral, tmp_path: Any, headers: dict[str, str], status: int
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client)
        reply = await client.post(
            "/api/v1/sync/events", json=batch(identity, [make_event(identity, 1)]), headers=headers
        )
        assert reply.status_code == status
        assert await central_events(client, identity["farm_id"]) == []


async def test_appliance_cannot_send_a_batch_as_another(
    make_central: MakeCentral, tmp_path: Any
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        mine = await enrol(client, "farm-a")
        other = await enrol(client, "farm-a")
        reply = await client.post(
            "/api/v1/sync/events",
            json=batch(other, [make_event(other, 1)]),
            headers={"Authorization": f"Bearer {mine['token']}"},
        )
        assert reply.status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/enrolment-codes", {"farm_id": "has/slash"}),
        ("/api/v1/enroll", {"code": "short"}),
    ],
)
async def test_malformed_request_gets_422_naming_the_field(
    make_central: MakeCentral, tmp_path: Any, path: str, body: dict[str, Any]
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        reply = await client.post(path, json=body, headers=ADMIN)
        assert reply.status_code == 422
        assert reply.json()["detail"][0]["loc"][-1] in body


async def test_events_listing_requires_admin(make_central: MakeCentral, tmp_path: Any) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        reply = await client.get("/api/v1/events", headers={"Authorization": "Bearer nope"})
        assert reply.status_code == 401
