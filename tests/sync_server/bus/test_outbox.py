"""Central's bus outbox without a bus, and the commands API's guard; no broker involved."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import col, select

from contracts.topics import bus_topic
from sync_server.bus.outbox import count_unpublished
from sync_server.bus.settings import BusSettings
from sync_server.models import BusOutboxRecord
from sync_server.state import CentralState
from tests.sync_server.bus.conftest import BusCentral, MakeBusCentral
from tests.sync_server.bus.fleet import ADMIN, enrol, envelopes, sync, unique_farm


def central_state(central: BusCentral) -> CentralState:
    state: CentralState = central.app.state.central
    return state


async def test_each_new_event_gets_one_outbox_row_in_order_when_no_bus_is_configured(
    database_url: str, make_bus_central: MakeBusCentral
) -> None:
    central = await make_bus_central(database_url, BusSettings())
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client, unique_farm())
        events = envelopes(identity, 24)
        await sync(client, identity, events[:10])
        await sync(client, identity, events)  # the first ten again, as duplicates

    async with central_state(central).sessions() as session:
        rows = (await session.exec(select(BusOutboxRecord).order_by(col(BusOutboxRecord.pk)))).all()
        pending = await count_unpublished(session)
    assert [r.event_id for r in rows] == [e.id for e in events]
    assert [r.topic for r in rows] == [bus_topic(e.type) for e in events]
    assert pending == len(events)
    assert central.bridge.relay is None


async def test_outbox_row_holds_the_envelope_exactly(
    make_bus_central: MakeBusCentral, tmp_path: object
) -> None:
    central = await make_bus_central(f"sqlite+aiosqlite:///{tmp_path}/c.db", BusSettings())
    async with httpx.AsyncClient(base_url=central.url) as client:
        identity = await enrol(client, unique_farm())
        [event] = envelopes(identity, 1)
        await sync(client, identity, [event])

    async with central_state(central).sessions() as session:
        row = (await session.exec(select(BusOutboxRecord))).one()
    assert type(event).model_validate_json(row.body) == event
    assert (row.farm_id, row.event_type, row.schema_version) == (
        identity["farm_id"],
        event.type.value,
        1,
    )
    assert row.published_at is None
    assert row.created_at.replace(tzinfo=UTC) <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/v1/farms/farm-a/commands", {}, 401),
        ("/api/v1/farms/farm-a/commands", {"Authorization": "Bearer nope"}, 401),
        ("/api/v1/farms/farm-a/commands?state=lost", ADMIN, 422),
        ("/api/v1/farms/-not-an-id/commands", ADMIN, 422),
    ],
)
async def test_commands_listing_refuses_bad_requests(
    make_bus_central: MakeBusCentral,
    tmp_path: object,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    central = await make_bus_central(f"sqlite+aiosqlite:///{tmp_path}/c.db", BusSettings())
    async with httpx.AsyncClient(base_url=central.url) as client:
        reply = await client.get(path, headers=headers)
    assert reply.status_code == status
