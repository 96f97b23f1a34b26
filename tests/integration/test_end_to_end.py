"""Appliance -> central over real HTTP: enrolment, sync, outage and resume."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.conftest import (
    ADMIN_TOKEN,
    API_TOKEN,
    MakeAppliance,
    MakeCentral,
    eventually,
    free_port,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def enrol(appliance_url: str, central_url: str, farm_id: str = "farm-e2e") -> None:
    async with httpx.AsyncClient() as client:
        code = await client.post(
            f"{central_url}/api/v1/enrolment-codes", json={"farm_id": farm_id}, headers=ADMIN
        )
        reply = await client.post(
            f"{appliance_url}/api/v1/enrolment",
            json={"server_url": central_url, "code": code.json()["code"]},
            headers=AUTH,
        )
        assert reply.status_code == 201, reply.text


async def record(appliance_url: str, n: int) -> list[str]:
    ids = []
    async with httpx.AsyncClient(base_url=appliance_url) as client:
        for i in range(n):
            reply = await client.post(
                "/api/v1/events",
                json={
                    "correlation_id": f"cam-1:intruder:{i}",
                    "event": {"kind": "intruder", "severity": "critical", "summary": f"#{i}"},
                },
                headers=AUTH,
            )
            ids.append(reply.json()["id"])
    return ids


async def central_ids(central_url: str, farm_id: str = "farm-e2e") -> list[str]:
    async with httpx.AsyncClient() as client:
        reply = await client.get(
            f"{central_url}/api/v1/events",
            params={"farm_id": farm_id, "type": "incident.event"},
            headers=ADMIN,
        )
        return [item["id"] for item in reply.json()["items"]]


async def wait_for_ids(central_url: str, expected: list[str]) -> list[str]:
    """Central's ids for the farm, once they are exactly `expected` (in any order)."""

    async def arrived() -> bool:
        return sorted(await central_ids(central_url)) == sorted(expected)

    await eventually(arrived, 20)
    return await central_ids(central_url)


async def test_event_recorded_on_the_appliance_reaches_central(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'central.db'}")
    appliance = await make_appliance()
    await enrol(appliance.url, central.url)

    ids = await record(appliance.url, 3)

    assert await wait_for_ids(central.url, ids) == ids
    outbox: dict[str, int] = {}

    async def drained() -> bool:
        async with httpx.AsyncClient() as client:
            status = await client.get(f"{appliance.url}/api/v1/status", headers=AUTH)
            outbox.update(status.json()["outbox"])
        return outbox["pending"] == 0 and outbox["recorded"] == 6

    await eventually(drained)  # 3 farm events + 3 incident.opened
    assert outbox["sent"] == 6


async def test_events_recorded_while_central_is_down_arrive_once_it_is_back(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'central.db'}"
    port = free_port()
    central = await make_central(db, port)
    appliance = await make_appliance()
    await enrol(appliance.url, central.url)
    before = await record(appliance.url, 2)
    await wait_for_ids(central.url, before)

    await central.stop()
    during = await record(appliance.url, 5)
    await asyncio.sleep(1.0)  # the agent fails and backs off meanwhile
    central = await make_central(db, port)

    assert await wait_for_ids(central.url, before + during) == before + during


async def test_appliance_restart_resumes_the_outbox_without_duplicates(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'central.db'}")
    first = await make_appliance(tmp_path / "box")
    await enrol(first.url, central.url)
    early = await record(first.url, 3)
    await wait_for_ids(central.url, early)
    await first.runner.cleanup()

    second = await make_appliance(tmp_path / "box")
    late = await record(second.url, 2)

    assert await wait_for_ids(central.url, early + late) == early + late


async def test_revoked_appliance_is_refused_and_says_so(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'central.db'}")
    appliance = await make_appliance()
    await enrol(appliance.url, central.url)
    before = await record(appliance.url, 1)
    await wait_for_ids(central.url, before)
    async with httpx.AsyncClient() as client:
        status = (await client.get(f"{appliance.url}/api/v1/status", headers=AUTH)).json()
        revoked = await client.post(
            f"{central.url}/api/v1/appliances/{status['appliance_id']}/revoke", headers=ADMIN
        )
    assert revoked.status_code == 200

    await record(appliance.url, 1)
    errors: list[str] = []

    async def refused() -> bool:
        async with httpx.AsyncClient() as client:
            sync = (await client.get(f"{appliance.url}/api/v1/status", headers=AUTH)).json()["sync"]
        errors.append(sync["last_error"] or "")
        return "revoked" in errors[-1]

    await eventually(refused)
    assert "401" in errors[-1]
    assert await central_ids(central.url) == before
