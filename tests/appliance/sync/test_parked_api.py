"""Parked events are visible on the appliance API."""

from __future__ import annotations

import asyncio

import httpx
from typer.testing import CliRunner

from appliance import keys
from cli.main import app
from contracts import EventType, FarmEvent, FarmEventKind, Severity
from tests.conftest import API_TOKEN, MakeAppliance


async def test_parked_events_are_listed_with_their_reason(make_appliance: MakeAppliance) -> None:
    appliance = await make_appliance()
    events = appliance.app[keys.EVENTS]
    event = FarmEvent(kind=FarmEventKind.ESCAPE, severity=Severity.WARNING, summary="cow out")
    kept = await events.record(EventType.FARM_EVENT, event, correlation_id="a")
    parked = await events.record(EventType.FARM_EVENT, event, correlation_id="b")
    await events.park(parked.seq, "payload: not what central expects")

    async with httpx.AsyncClient() as client:
        reply = await client.get(
            f"{appliance.url}/api/v1/sync/parked",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )

    assert reply.status_code == 200
    items = reply.json()["items"]
    assert [(i["id"], i["reason"]) for i in items] == [
        (str(parked.id), "payload: not what central expects")
    ]
    assert str(kept.id) not in {i["id"] for i in items}


async def test_cli_lists_parked_events(make_appliance: MakeAppliance) -> None:
    appliance = await make_appliance()
    events = appliance.app[keys.EVENTS]
    event = FarmEvent(kind=FarmEventKind.ESCAPE, severity=Severity.WARNING, summary="cow out")
    parked = await events.record(EventType.FARM_EVENT, event, correlation_id="a")
    await events.park(parked.seq, "refused by central")

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["appliance", "parked", "--appliance", appliance.url, "--token", API_TOKEN],
    )

    assert result.exit_code == 0, result.output
    assert str(parked.id) in result.output
    assert "refused by central" in result.output
