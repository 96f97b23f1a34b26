"""Central's enrolment and sync API, against real servers on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import EventType, FarmEvent, FarmEventKind, Severity, new_id
from contracts.sync import signed_message
from sync_server.compression import MAX_BODY_BYTES
from tests.conftest import ADMIN_TOKEN, MakeCentral
from tests.sync_server.signing import now_ms, public_key, signed_headers

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SYNC = "/api/v1/sync/events"


@dataclass
class Enrolled:
    """An appliance as the tests play it: its id, farm and signing key."""

    appliance_id: str
    farm_id: str
    key: Ed25519PrivateKey
    last_ms: int = field(default=0)

    def headers(
        self, method: str, path: str, body: bytes, at_ms: int | None = None
    ) -> dict[str, str]:
        self.last_ms = at_ms or max(now_ms(), self.last_ms + 1)
        return signed_headers(self.appliance_id, self.key, method, path, body, self.last_ms)


async def enrol(client: httpx.AsyncClient, farm_id: str = "farm-a") -> Enrolled:
    code = await client.post("/api/v1/enrolment-codes", json={"farm_id": farm_id}, headers=ADMIN)
    assert code.status_code == 201, code.text
    key = Ed25519PrivateKey.generate()
    reply = await client.post(
        "/api/v1/enroll",
        json={"code": code.json()["code"], "name": "barn-box", "public_key": public_key(key)},
    )
    assert reply.status_code == 201, reply.text
    return Enrolled(reply.json()["appliance_id"], reply.json()["farm_id"], key)


async def post_signed(
    client: httpx.AsyncClient, signer: Enrolled, body: dict[str, Any]
) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await client.post(SYNC, content=raw, headers=signer.headers("POST", SYNC, raw))


def make_event(identity: Enrolled, seq: int, **changes: Any) -> dict[str, Any]:
    event = FarmEvent(kind=FarmEventKind.INTRUDER, severity=Severity.CRITICAL, summary="person")
    envelope: dict[str, Any] = {
        "id": str(new_id()),
        "type": EventType.FARM_EVENT.value,
        "schema_version": 1,
        "farm_id": identity.farm_id,
        "appliance_id": identity.appliance_id,
        "correlation_id": "cam-1:intruder:gate",
        "seq": seq,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": event.model_dump(mode="json"),
    }
    envelope.update(changes)
    return envelope


def batch(identity: Enrolled, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"batch_id": str(new_id()), "appliance_id": identity.appliance_id, "events": events}


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
        events = [make_event(identity, seq) for seq in (1, 2, 3)]
        body = batch(identity, events)

        first = await post_signed(client, identity, body)
        second = await post_signed(client, identity, body)

        assert first.status_code == second.status_code == 200
        ids = [e["id"] for e in events]
        assert first.json()["accepted"] == ids
        assert first.json()["duplicates"] == []
        assert second.json()["accepted"] == []
        assert second.json()["duplicates"] == ids
        stored = await central_events(client, identity.farm_id)
        assert [e["id"] for e in stored] == ids


async def test_event_for_another_farm_is_rejected_alone(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client, "farm-a")
        await enrol(client, "farm-b")
        good = make_event(identity, 1)
        foreign = make_event(identity, 2, farm_id="farm-b")
        malformed = make_event(identity, 3, occurred_at="2026-01-01T00:00:00")

        reply = await post_signed(client, identity, batch(identity, [good, foreign, malformed]))

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
        key = public_key(Ed25519PrivateKey.generate())
        body = {"code": code.json()["code"], "name": "box", "public_key": key}

        first = await client.post("/api/v1/enroll", json=body)
        second = await client.post("/api/v1/enroll", json=body)

        assert first.status_code == 201
        assert second.status_code == 400
        assert "used" in second.json()["detail"]


def unsigned(signer: Enrolled, raw: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def unknown_appliance(signer: Enrolled, raw: bytes) -> dict[str, str]:
    return {**signer.headers("POST", SYNC, raw), "X-Byre-Appliance": "ap-nobody"}


def signed_by_another_key(signer: Enrolled, raw: bytes) -> dict[str, str]:
    impostor = Enrolled(signer.appliance_id, signer.farm_id, Ed25519PrivateKey.generate())
    return impostor.headers("POST", SYNC, raw)


def signed_for_another_body(signer: Enrolled, raw: bytes) -> dict[str, str]:
    return signer.headers("POST", SYNC, raw + b" ")


def signed_for_another_path(signer: Enrolled, raw: bytes) -> dict[str, str]:
    return signer.headers("POST", "/api/v1/sync/other", raw)


def stale(signer: Enrolled, raw: bytes) -> dict[str, str]:
    return signer.headers("POST", SYNC, raw, at_ms=int((time.time() - 301) * 1000))


def from_the_future(signer: Enrolled, raw: bytes) -> dict[str, str]:
    return signer.headers("POST", SYNC, raw, at_ms=int((time.time() + 301) * 1000))


def far_beyond_the_calendar(signer: Enrolled, raw: bytes) -> dict[str, str]:
    return signer.headers("POST", SYNC, raw, at_ms=999_999_999_999_999)


def timestamp_not_a_number(signer: Enrolled, raw: bytes) -> dict[str, str]:
    headers = signer.headers("POST", SYNC, raw)
    message = signed_message("POST", SYNC, "soon", raw)
    signature = base64.b64encode(signer.key.sign(message)).decode()
    return {**headers, "X-Byre-Timestamp": "soon", "X-Byre-Signature": signature}


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (unsigned, "signed request is required"),
        (unknown_appliance, "unknown appliance"),
        (signed_by_another_key, "signature is not valid"),
        (signed_for_another_body, "signature is not valid"),
        (signed_for_another_path, "signature is not valid"),
        (stale, "timestamp"),
        (from_the_future, "timestamp"),
        (timestamp_not_a_number, "timestamp"),
        (far_beyond_the_calendar, "timestamp"),
    ],
)
async def test_sync_without_a_valid_signature_is_refused(
    make_central: MakeCentral, database_url: str, make_headers: Any, reason: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client)
        raw = json.dumps(batch(identity, [make_event(identity, 1)])).encode()

        reply = await client.post(SYNC, content=raw, headers=make_headers(identity, raw))

        assert reply.status_code == 401
        assert reason in reply.json()["detail"]
        assert await central_events(client, identity.farm_id) == []


async def test_replayed_request_is_refused(make_central: MakeCentral, database_url: str) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client)
        raw = json.dumps(batch(identity, [make_event(identity, 1)])).encode()
        headers = identity.headers("POST", SYNC, raw)

        first = await client.post(SYNC, content=raw, headers=headers)
        replay = await client.post(SYNC, content=raw, headers=headers)

        assert first.status_code == 200
        assert replay.status_code == 401
        assert "replay" in replay.json()["detail"]


async def test_revoked_appliance_is_refused_and_listed_as_revoked(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        revoked = await enrol(client)
        kept = await enrol(client)
        assert (
            await post_signed(client, revoked, batch(revoked, [make_event(revoked, 1)]))
        ).is_success

        reply = await client.post(
            f"/api/v1/appliances/{revoked.appliance_id}/revoke", headers=ADMIN
        )
        refused = await post_signed(client, revoked, batch(revoked, [make_event(revoked, 2)]))
        still_fine = await post_signed(client, kept, batch(kept, [make_event(kept, 1)]))
        listing = await client.get("/api/v1/appliances", headers=ADMIN)

        assert reply.status_code == 200
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]
        assert still_fine.status_code == 200
        by_id = {a["id"]: a for a in listing.json()["items"]}
        assert by_id[revoked.appliance_id]["revoked_at"] is not None
        assert by_id[kept.appliance_id]["revoked_at"] is None
        assert by_id[kept.appliance_id]["last_seen_at"] is not None


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/v1/appliances", {}, 401),
        ("POST", "/api/v1/appliances/ap-nobody/revoke", {"Authorization": "Bearer x"}, 401),
        ("POST", "/api/v1/appliances/ap-nobody/revoke", ADMIN, 404),
    ],
)
async def test_appliance_administration_needs_the_admin_and_a_known_appliance(
    make_central: MakeCentral,
    tmp_path: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        reply = await client.request(method, path, headers=headers)
        assert reply.status_code == status


async def test_appliance_cannot_send_a_batch_as_another(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        mine = await enrol(client, "farm-a")
        other = await enrol(client, "farm-b")
        as_other = await post_signed(client, mine, batch(other, [make_event(other, 1)]))
        into_other_farm = await post_signed(
            client, mine, batch(mine, [make_event(mine, 1, farm_id=other.farm_id)])
        )

        assert as_other.status_code == 403
        assert into_other_farm.json()["accepted"] == []
        assert await central_events(client, other.farm_id) == []


async def test_gzip_body_is_accepted(make_central: MakeCentral, tmp_path: Any) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client)
        events = [make_event(identity, seq) for seq in range(1, 51)]
        raw = json.dumps(batch(identity, events)).encode()
        headers = {**identity.headers("POST", SYNC, raw), "Content-Encoding": "gzip"}

        reply = await client.post(SYNC, content=gzip.compress(raw), headers=headers)

        assert reply.status_code == 200, reply.text
        assert len(reply.json()["accepted"]) == 50


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [
        (gzip.compress(b" " * (MAX_BODY_BYTES + 1)), "gzip", 413),
        (gzip.compress(b"{}")[:-4], "gzip", 400),
        (b"not gzip at all", "gzip", 400),
        (b"{}", "br", 415),
    ],
)
async def test_bad_or_oversized_encoded_body_is_refused(
    make_central: MakeCentral, tmp_path: Any, body: bytes, encoding: str, status: int
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client)
        headers = {**identity.headers("POST", SYNC, body), "Content-Encoding": encoding}

        reply = await client.post(SYNC, content=body, headers=headers)

        assert reply.status_code == status


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/enrolment-codes", {"farm_id": "has/slash"}),
        ("/api/v1/enroll", {"code": "short"}),
        ("/api/v1/enroll", {"code": "ABCD-EFGH-JKLM", "name": "box", "public_key": "abc"}),
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


async def test_concurrent_batches_store_each_event_once(
    make_central: MakeCentral, database_url: str
) -> None:
    # Appliances may keep several batches in flight; each overlaps the next by ten events.
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url, timeout=60) as client:
        identity = await enrol(client)
        events = [make_event(identity, seq) for seq in range(1, 171)]
        bodies = [batch(identity, events[start : start + 50]) for start in range(0, 160, 40)]

        replies = await asyncio.gather(*(post_signed(client, identity, b) for b in bodies))

        assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
        accepted = [i for r in replies for i in r.json()["accepted"]]
        duplicates = [i for r in replies for i in r.json()["duplicates"]]
        sent = {e["id"] for e in events[:170]}
        assert sorted(accepted) == sorted(sent)  # each accepted exactly once
        assert len(duplicates) == 30
        assert set(duplicates) <= sent
        listed = await client.get(
            "/api/v1/events", params={"farm_id": identity.farm_id, "limit": 500}, headers=ADMIN
        )
        assert sorted(e["id"] for e in listed.json()["items"]) == sorted(sent)


async def test_malformed_batch_gets_422_naming_the_field(
    make_central: MakeCentral, tmp_path: Any
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client)
        good = batch(identity, [make_event(identity, 1)])
        replies = [
            await post_signed(client, identity, {**good, "batch_id": "not-a-uuid"}),
            await post_signed(client, identity, {**good, "events": []}),
            await post_signed(client, identity, {**good, "events": "nope"}),
        ]

    assert [r.status_code for r in replies] == [422] * 3
    assert [r.json()["detail"][0]["loc"] for r in replies] == [
        ["body", "batch_id"],
        ["body", "events"],
        ["body", "events"],
    ]
