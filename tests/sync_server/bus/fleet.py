"""Enrolled appliances, event envelopes of every bus topic, and HQ command requests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import DeviceCommand, EventEnvelope, EventType, new_id
from contracts.bus import CommandRequest
from tests.conftest import ADMIN_TOKEN
from tests.contracts.examples import PAYLOADS
from tests.sync_server.signing import now_ms, public_key, signed_headers

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def unique_farm() -> str:
    return f"farm-{uuid.uuid4().hex[:10]}"


async def enrol(client: httpx.AsyncClient, farm_id: str) -> dict[str, Any]:
    code = await client.post("/api/v1/enrolment-codes", json={"farm_id": farm_id}, headers=ADMIN)
    assert code.status_code == 201, code.text
    key = Ed25519PrivateKey.generate()
    body = {"code": code.json()["code"], "name": "box", "public_key": public_key(key)}
    reply = await client.post("/api/v1/enroll", json=body)
    assert reply.status_code == 201, reply.text
    identity: dict[str, Any] = {**reply.json(), "key": key}
    return identity


def envelopes(identity: dict[str, Any], count: int, first_seq: int = 1) -> list[EventEnvelope]:
    """`count` events cycling through every event type, numbered from `first_seq`."""
    types = list(EventType)
    return [
        EventEnvelope(
            id=new_id(),
            type=types[i % len(types)],
            farm_id=identity["farm_id"],
            appliance_id=identity["appliance_id"],
            correlation_id=f"case-{i % 7}",
            seq=first_seq + i,
            occurred_at=datetime.now(UTC),
            payload=PAYLOADS[types[i % len(types)]]().model_dump(mode="json"),
        )
        for i in range(count)
    ]


async def sync(
    client: httpx.AsyncClient, identity: dict[str, Any], events: list[EventEnvelope]
) -> dict[str, Any]:
    body = {
        "batch_id": str(new_id()),
        "appliance_id": identity["appliance_id"],
        "events": [e.model_dump(mode="json") for e in events],
    }
    raw = json.dumps(body).encode()
    path = "/api/v1/sync/events"
    headers = signed_headers(identity["appliance_id"], identity["key"], "POST", path, raw, now_ms())
    reply = await client.post(path, content=raw, headers=headers)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def command_request(farm_id: str, correlation_id: str = "cmd:gate-2:open:1") -> CommandRequest:
    now = datetime.now(UTC)
    return CommandRequest(
        farm_id=farm_id,
        command=DeviceCommand(
            command_id=new_id(),
            correlation_id=correlation_id,
            device_id="gate-2",
            action="open",
            params={"seconds": 30},
            requested_at=now,
            expires_at=now + timedelta(minutes=5),
            requested_by="hq:dispatch",
        ),
    )


def changed(request: CommandRequest, **changes: Any) -> bytes:
    """The request as JSON with fields of its command replaced (None removes the field)."""
    data = request.model_dump(mode="json")
    for name, value in changes.items():
        if value is None:
            data["command"].pop(name)
        else:
            data["command"][name] = value
    return json.dumps(data).encode()


async def farm_commands(
    client: httpx.AsyncClient, farm_id: str, state: str = "pending"
) -> list[dict[str, Any]]:
    reply = await client.get(
        f"/api/v1/farms/{farm_id}/commands", params={"state": state}, headers=ADMIN
    )
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def holds(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """`check` as the async predicate `tests.conftest.eventually` polls."""

    async def predicate() -> bool:
        return check()

    return predicate
