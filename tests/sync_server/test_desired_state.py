"""Desired and reported state on central: commands issued by admins or HQ's bus reach only
their farm's appliances through the long poll, reports move them forward once, and config
changes move the version. Real servers on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from contracts.bus import CommandRequest
from contracts.desired import DESIRED_PATH, REPORTED_PATH
from sync_server.bus.inbox import CommandInbox, Outcome
from sync_server.db import make_engine, session_factory
from tests.conftest import MakeCentral
from tests.sync_server.bus.fleet import command_request
from tests.sync_server.test_sync_api import ADMIN, Enrolled, enrol

Json = dict[str, Any]


async def poll(
    client: httpx.AsyncClient, box: Enrolled, version: int | None = None, wait_s: float = 0
) -> httpx.Response:
    since = "" if version is None else f"version={version}&"
    target = f"{DESIRED_PATH}?{since}wait_s={wait_s}"
    return await client.get(target, headers=box.headers("GET", target, b""), timeout=wait_s + 10)


async def report(client: httpx.AsyncClient, box: Enrolled, **fields: Any) -> httpx.Response:
    body = {"appliance_id": box.appliance_id, "applied_version": 0, "config_version": 0}
    raw = json.dumps({**body, **fields}).encode()
    return await client.post(
        REPORTED_PATH, content=raw, headers=box.headers("POST", REPORTED_PATH, raw)
    )


async def issue(client: httpx.AsyncClient, farm_id: str, **fields: Any) -> httpx.Response:
    body = {"device_id": "gate-2", "action": "open", "params": {"seconds": 30}, **fields}
    return await client.post(f"/api/v1/farms/{farm_id}/commands", json=body, headers=ADMIN)


async def commands_of(client: httpx.AsyncClient, farm_id: str) -> list[Json]:
    reply = await client.get(f"/api/v1/farms/{farm_id}/commands", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    items: list[Json] = reply.json()["items"]
    return items


def ids(desired: Json) -> list[str]:
    return [c["correlation_id"] for c in desired["commands"]]


async def test_issued_command_reaches_the_farm_and_an_unchanged_poll_answers_304(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        empty = await poll(client, box)
        issued = await issue(client, "farm-a", correlation_id="cmd:gate-2:open:1")

        first = await poll(client, box, version=empty.json()["version"])
        again = await poll(client, box, version=first.json()["version"], wait_s=0.2)

    assert empty.status_code == 200, empty.text
    assert empty.json()["commands"] == []
    assert issued.status_code == 201, issued.text
    assert issued.json()["state"] == "pending"
    assert issued.json()["source"] == "api"
    assert first.status_code == 200
    assert first.json()["version"] > empty.json()["version"]
    assert first.json()["farm_id"] == "farm-a"
    assert first.json()["commands"] == [issued.json()["command"]]
    assert again.status_code == 304


async def test_waiting_poll_wakes_when_a_command_is_issued(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        version = (await poll(client, box)).json()["version"]
        waiting = asyncio.create_task(poll(client, box, version=version, wait_s=30))
        await asyncio.sleep(0.3)
        issued = await issue(client, "farm-a")
        woken = await waiting

    assert woken.status_code == 200
    assert woken.json()["commands"] == [issued.json()["command"]]


async def test_appliance_sees_and_reports_only_its_own_farms_commands(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        own = await enrol(client, "farm-a")
        other = await enrol(client, "farm-b")
        await issue(client, "farm-a", correlation_id="cmd:a")
        await issue(client, "farm-b", correlation_id="cmd:b")

        seen_by_other = (await poll(client, other)).json()
        foreign = await report(
            client, other, commands=[{"correlation_id": "cmd:a", "state": "done"}]
        )
        seen_by_own = (await poll(client, own)).json()
        farm_a = await commands_of(client, "farm-a")

    assert ids(seen_by_other) == ["cmd:b"]
    assert seen_by_other["farm_id"] == "farm-b"
    assert foreign.status_code == 200, foreign.text
    assert foreign.json() == {"updated": [], "unchanged": [], "unknown": ["cmd:a"]}
    assert ids(seen_by_own) == ["cmd:a"]
    assert [c["state"] for c in farm_a] == ["pending"]


async def test_reports_move_a_command_forward_once_and_never_back(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        await issue(client, "farm-a", correlation_id="cmd:1")

        delivered = await report(
            client, box, commands=[{"correlation_id": "cmd:1", "state": "delivered"}]
        )
        after_delivery = (await poll(client, box)).json()
        done = await report(
            client,
            box,
            commands=[
                {"correlation_id": "cmd:1", "state": "accepted"},
                {"correlation_id": "cmd:1", "state": "done", "detail": "gate open"},
            ],
        )
        repeated = await report(
            client, box, commands=[{"correlation_id": "cmd:1", "state": "done"}]
        )
        backwards = await report(
            client, box, commands=[{"correlation_id": "cmd:1", "state": "delivered"}]
        )
        stored = await commands_of(client, "farm-a")

    assert delivered.json() == {"updated": ["cmd:1"], "unchanged": [], "unknown": []}
    assert after_delivery["commands"] == []
    assert done.json() == {"updated": ["cmd:1"], "unchanged": [], "unknown": []}
    assert repeated.json() == {"updated": [], "unchanged": ["cmd:1"], "unknown": []}
    assert backwards.json() == {"updated": [], "unchanged": ["cmd:1"], "unknown": []}
    assert [(c["state"], c["detail"], c["reported_by"]) for c in stored] == [
        ("done", "gate open", box.appliance_id)
    ]


async def test_revoked_or_unsigned_appliances_are_refused(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        await issue(client, "farm-a", correlation_id="cmd:1")
        unsigned = await client.get(f"{DESIRED_PATH}?version=0&wait_s=0")
        revoked = await client.post(f"/api/v1/appliances/{box.appliance_id}/revoke", headers=ADMIN)
        polled = await poll(client, box)
        reported = await report(
            client, box, commands=[{"correlation_id": "cmd:1", "state": "done"}]
        )
        stored = await commands_of(client, "farm-a")

    assert unsigned.status_code == 401
    assert revoked.status_code == 200
    assert polled.status_code == 401
    assert "revoked" in polled.json()["detail"]
    assert reported.status_code == 401
    assert [c["state"] for c in stored] == ["pending"]


async def test_report_in_another_appliances_name_is_forbidden(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        other = await enrol(client, "farm-a")
        await issue(client, "farm-a", correlation_id="cmd:1")
        reply = await report(
            client,
            box,
            appliance_id=other.appliance_id,
            commands=[{"correlation_id": "cmd:1", "state": "done"}],
        )
        stored = await commands_of(client, "farm-a")

    assert reply.status_code == 403
    assert [c["state"] for c in stored] == ["pending"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        pytest.param({"state": "pending"}, "state", id="pending-is-not-a-farm-state"),
        pytest.param({"correlation_id": ""}, "correlation_id", id="empty-correlation-id"),
        pytest.param({"extra": 1}, "extra", id="unknown-field"),
    ],
)
async def test_malformed_report_is_rejected_and_changes_nothing(
    make_central: MakeCentral, database_url: str, fields: Json, problem: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        await issue(client, "farm-a", correlation_id="cmd:1")
        reply = await report(
            client, box, commands=[{"correlation_id": "cmd:1", "state": "done", **fields}]
        )
        stored = await commands_of(client, "farm-a")

    assert reply.status_code == 422
    assert problem in reply.text
    assert [c["state"] for c in stored] == ["pending"]


async def test_issuing_the_same_correlation_id_twice_stores_one_command(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        first = await issue(client, "farm-a", correlation_id="cmd:1")
        again = await issue(client, "farm-a", correlation_id="cmd:1")
        clash = await issue(client, "farm-a", correlation_id="cmd:1", action="close")
        other_farm = await issue(client, "farm-b", correlation_id="cmd:1")
        stored = await commands_of(client, "farm-a")

    assert (first.status_code, again.status_code, clash.status_code) == (201, 200, 409)
    assert again.json()["command"] == first.json()["command"]
    assert other_farm.status_code == 201
    assert [c["command"]["correlation_id"] for c in stored] == ["cmd:1"]


@pytest.mark.parametrize(
    ("farm_id", "body", "status"),
    [
        pytest.param("farm-a", {"device_id": "gate/2", "action": "open"}, 422, id="bad-device"),
        pytest.param("farm-a", {"device_id": "gate-2", "action": "Open!"}, 422, id="bad-action"),
        pytest.param("farm-a", {"device_id": "gate-2"}, 422, id="no-action"),
        pytest.param(
            "farm-a", {"device_id": "gate-2", "action": "open", "ttl_s": 0}, 422, id="bad-ttl"
        ),
        pytest.param(
            "farm-a", {"device_id": "gate-2", "action": "open", "colour": 1}, 422, id="extra"
        ),
        pytest.param("farm a", {"device_id": "gate-2", "action": "open"}, 422, id="bad-farm"),
    ],
)
async def test_malformed_command_is_rejected_and_nothing_is_stored(
    make_central: MakeCentral, database_url: str, farm_id: str, body: Json, status: int
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        reply = await client.post(f"/api/v1/farms/{farm_id}/commands", json=body, headers=ADMIN)
        unauthorised = await client.post(
            "/api/v1/farms/farm-a/commands", json={"device_id": "gate-2", "action": "open"}
        )
        stored = await commands_of(client, "farm-a")

    assert reply.status_code == status
    assert unauthorised.status_code == 401
    assert stored == []


async def test_command_from_the_bus_inbox_reaches_the_farm(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    engine = make_engine(database_url)
    inbox = CommandInbox(session_factory(engine), retry_min_s=0.05, retry_max_s=0.5)
    request: CommandRequest = command_request("farm-a", "cmd:from-hq")
    try:
        async with httpx.AsyncClient(base_url=central.url) as client:
            box = await enrol(client, "farm-a")
            version = (await poll(client, box)).json()["version"]
            waiting = asyncio.create_task(poll(client, box, version=version, wait_s=30))
            outcome = await inbox.handle(request.model_dump_json().encode(), {})
            woken = await waiting
    finally:
        await engine.dispose()

    assert outcome is Outcome.STORED
    assert woken.status_code == 200
    assert woken.json()["commands"] == [request.command.model_dump(mode="json")]


async def test_expired_command_times_out_at_central_and_is_not_delivered(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        await issue(client, "farm-a", correlation_id="cmd:late", ttl_s=10)
        engine = make_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql(
                    "UPDATE commands SET expires_at = received_at WHERE correlation_id = 'cmd:late'"
                )
        finally:
            await engine.dispose()
        desired = (await poll(client, box)).json()
        stored = await commands_of(client, "farm-a")

    assert desired["commands"] == []
    assert [c["state"] for c in stored] == ["timed_out"]
    assert stored[0]["detail"].startswith("expired at central")


async def test_config_change_moves_the_version_and_reports_are_listed(
    make_central: MakeCentral, database_url: str
) -> None:
    central = await make_central(database_url)
    config = {
        "config": {"heat_stress_thi": 72},
        "model_assignments": [{"name": "coco-ssd", "version": "1.0.0"}],
    }
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        before = (await poll(client, box)).json()
        waiting = asyncio.create_task(poll(client, box, version=before["version"], wait_s=30))
        await asyncio.sleep(0.3)
        first = await client.put("/api/v1/farms/farm-a/desired", json=config, headers=ADMIN)
        woken = (await waiting).json()
        same = await client.put("/api/v1/farms/farm-a/desired", json=config, headers=ADMIN)
        models_only = await client.put(
            "/api/v1/farms/farm-a/desired",
            json={**config, "model_assignments": []},
            headers=ADMIN,
        )
        await report(
            client,
            box,
            applied_version=woken["version"],
            config_version=woken["config_version"],
            models=[{"name": "coco-ssd", "version": "1.0.0", "state": "assigned"}],
        )
        bad = await client.put(
            "/api/v1/farms/farm-a/desired",
            json={"model_assignments": [{"name": "coco-ssd", "version": "latest"}]},
            headers=ADMIN,
        )
        listed = await client.get("/api/v1/farms/farm-a/desired", headers=ADMIN)

    assert first.status_code == 200, first.text
    assert (woken["config"], woken["config_version"]) == ({"heat_stress_thi": 72}, 1)
    assert woken["model_assignments"] == [{"name": "coco-ssd", "version": "1.0.0", "sha256": None}]
    assert woken["version"] > before["version"]
    assert same.json()["version"] == first.json()["version"]
    assert models_only.json()["version"] > first.json()["version"]
    assert models_only.json()["config_version"] == 1
    assert bad.status_code == 422
    assert listed.json()["version"] == models_only.json()["version"]
    assert [(r["appliance_id"], r["applied_version"]) for r in listed.json()["reports"]] == [
        (box.appliance_id, woken["version"])
    ]


async def test_poll_from_a_version_central_never_had_answers_at_once(
    make_central: MakeCentral, database_url: str
) -> None:
    """After central lost its database, say: the appliance gets the whole state again."""
    central = await make_central(database_url)
    async with httpx.AsyncClient(base_url=central.url) as client:
        box = await enrol(client, "farm-a")
        await issue(client, "farm-a", correlation_id="cmd:1")
        reply = await poll(client, box, version=10**9, wait_s=30)

    assert reply.status_code == 200
    assert ids(reply.json()) == ["cmd:1"]
