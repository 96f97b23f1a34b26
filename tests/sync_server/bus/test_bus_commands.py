"""HQ's command requests from the bus: stored once per correlation id, malformed ones rejected
and counted, central's own `commands.requested` events ignored. Against every real broker."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import httpx
import pytest

from contracts import EventType
from contracts.bus import HEADER_EVENT_ID
from tests.conftest import eventually
from tests.sync_server.bus.brokers import RABBITMQ_PORT, BrokerCase
from tests.sync_server.bus.conftest import MakeBusCentral
from tests.sync_server.bus.fleet import (
    changed,
    command_request,
    enrol,
    envelopes,
    farm_commands,
    holds,
    sync,
    unique_farm,
)

pytestmark = pytest.mark.integration

CONSUMER_READY_S = 20  # the Kafka consumer rejoins its group after an outage
SETTLE_S = 1.0  # long enough for a redelivery to show in the counters


async def test_malformed_requests_are_rejected_counted_and_not_redelivered(
    broker: BrokerCase, make_bus_central: MakeBusCentral, tmp_path: object
) -> None:
    central = await make_bus_central(f"sqlite+aiosqlite:///{tmp_path}/c.db", broker.settings())
    stats = central.bridge.inbox.stats
    await central.consumer_ready()
    farm = unique_farm()
    good = command_request(farm)
    malformed = [
        b"not json at all",
        b"{}",
        json.dumps({**good.model_dump(mode="json"), "farm_id": "no/slashes"}).encode(),
        changed(good, action=None),
        changed(good, expires_at="2020-01-01T00:00:00Z"),
        changed(good, requested_at="2026-01-01T00:00:00"),  # naive time
    ]
    probe = await broker.open_probe()
    try:
        for body in malformed:
            await probe.publish_request(body)
        await probe.publish_request(good.model_dump_json().encode())

        await eventually(
            holds(lambda: stats.rejected + stats.stored == len(malformed) + 1),
            seconds=CONSUMER_READY_S,
        )
        await asyncio.sleep(SETTLE_S)

        assert stats.rejected == len(malformed)
        assert stats.stored == 1
        async with httpx.AsyncClient(base_url=central.url) as client:
            stored = await farm_commands(client, farm)
        assert [c["command"]["correlation_id"] for c in stored] == [good.command.correlation_id]
        assert stored[0]["state"] == "pending"
    finally:
        await probe.close()


async def test_request_delivered_twice_is_stored_once(
    database_url: str, broker: BrokerCase, make_bus_central: MakeBusCentral
) -> None:
    central = await make_bus_central(database_url, broker.settings())
    stats = central.bridge.inbox.stats
    await central.consumer_ready()
    farm = unique_farm()
    request = command_request(farm)
    probe = await broker.open_probe()
    try:
        await probe.publish_request(request.model_dump_json().encode())
        await probe.publish_request(request.model_dump_json().encode())

        await eventually(
            holds(lambda: stats.stored + stats.duplicates == 2), seconds=CONSUMER_READY_S
        )

        assert (stats.stored, stats.duplicates, stats.rejected) == (1, 1, 0)
        async with httpx.AsyncClient(base_url=central.url) as client:
            stored = await farm_commands(client, farm)
        assert len(stored) == 1
        assert stored[0]["farm_id"] == farm
        assert stored[0]["source"] == "bus"
        assert stored[0]["command"] == request.command.model_dump(mode="json")
    finally:
        await probe.close()


async def test_appliance_command_events_on_the_bus_are_not_taken_for_requests(
    broker: BrokerCase, make_bus_central: MakeBusCentral, tmp_path: object
) -> None:
    central = await make_bus_central(f"sqlite+aiosqlite:///{tmp_path}/c.db", broker.settings())
    stats = central.bridge.inbox.stats
    await central.consumer_ready()
    probe = await broker.open_probe()
    try:
        async with httpx.AsyncClient(base_url=central.url) as client:
            identity = await enrol(client, unique_farm())
            requested = [
                e for e in envelopes(identity, 12) if e.type is EventType.COMMAND_REQUESTED
            ]
            await sync(client, identity, requested)

            await eventually(holds(lambda: stats.own_events == 1), seconds=CONSUMER_READY_S)
            await eventually(holds(lambda: len(probe.received) == 1))

            assert (stats.stored, stats.rejected) == (0, 0)
            assert await farm_commands(client, identity["farm_id"]) == []
            assert [m.headers[HEADER_EVENT_ID] for m in probe.received] == [str(requested[0].id)]
    finally:
        await probe.close()


async def test_command_consumer_resumes_after_a_broker_outage(
    broker: BrokerCase, make_bus_central: MakeBusCentral, tmp_path: object
) -> None:
    central = await make_bus_central(f"sqlite+aiosqlite:///{tmp_path}/c.db", broker.settings())
    stats = central.bridge.inbox.stats
    await central.consumer_ready()
    farm = unique_farm()
    probe = await broker.open_probe()
    try:
        await probe.publish_request(command_request(farm, "cmd:before").model_dump_json().encode())
        await eventually(holds(lambda: stats.stored == 1), seconds=CONSUMER_READY_S)

        broker.proxy.cut()
        await asyncio.sleep(SETTLE_S)
        broker.proxy.restore()
        await probe.publish_request(command_request(farm, "cmd:after").model_dump_json().encode())

        await eventually(holds(lambda: stats.stored == 2), seconds=CONSUMER_READY_S)
        async with httpx.AsyncClient(base_url=central.url) as client:
            stored = await farm_commands(client, farm)
        assert [c["command"]["correlation_id"] for c in stored] == ["cmd:before", "cmd:after"]
    finally:
        await probe.close()


@pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)
async def test_rabbitmq_dead_letters_rejected_requests(
    broker: BrokerCase, make_bus_central: MakeBusCentral, tmp_path: object
) -> None:
    central = await make_bus_central(f"sqlite+aiosqlite:///{tmp_path}/c.db", broker.settings())
    stats = central.bridge.inbox.stats
    await central.consumer_ready()
    probe = await broker.open_probe()
    try:
        await probe.publish_request(b"garbage", {"x-test": "1"})
        await eventually(holds(lambda: stats.rejected == 1), seconds=CONSUMER_READY_S)

        names = broker.settings().rabbitmq
        connection = await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{RABBITMQ_PORT}/")
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(names.dead_letter_queue, passive=True)
            dead = await queue.get(timeout=5)
            await dead.ack()
        assert dead.body == b"garbage"
        assert dead.headers["x-test"] == "1"
    finally:
        await probe.close()
