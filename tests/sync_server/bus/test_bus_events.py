"""Events synced to central reach the bus: one abstract suite, run against every real broker."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from contracts import EventEnvelope
from contracts.bus import (
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_FARM_ID,
    HEADER_SCHEMA_VERSION,
)
from tests.conftest import eventually
from tests.sync_server.bus.brokers import BrokerCase, Probe
from tests.sync_server.bus.conftest import BusCentral, MakeBusCentral
from tests.sync_server.bus.fleet import enrol, envelopes, holds, sync, unique_farm

pytestmark = pytest.mark.integration

SETTLE_S = 0.5  # time for a stray duplicate to show up before counting


def ids_seen(probe: Probe) -> set[str]:
    return {m.headers[HEADER_EVENT_ID] for m in probe.received}


def published(*centrals: BusCentral) -> int:
    total = 0
    for central in centrals:
        assert central.bridge.relay is not None
        total += central.bridge.relay.stats.published
    return total


async def test_every_synced_event_reaches_the_bus_once_with_its_topic_and_headers(
    database_url: str, broker: BrokerCase, make_bus_central: MakeBusCentral
) -> None:
    central = await make_bus_central(database_url, broker.settings(consume_commands=False))
    probe = await broker.open_probe()
    try:
        async with httpx.AsyncClient(base_url=central.url) as client:
            identity = await enrol(client, unique_farm())
            events = envelopes(identity, 36)  # every event type, three times
            await sync(client, identity, events)
            await sync(client, identity, events)  # duplicates: no new outbox rows

            await eventually(holds(lambda: published(central) == len(events)))
            await eventually(holds(lambda: len(probe.received) >= len(events)))
            await asyncio.sleep(SETTLE_S)

        assert len(probe.received) == len(events)
        by_id = {str(e.id): e for e in events}
        for message in probe.received:
            envelope = by_id[message.headers[HEADER_EVENT_ID]]
            assert message.topic == envelope.type.value
            assert message.headers[HEADER_EVENT_TYPE] == envelope.type.value
            assert message.headers[HEADER_FARM_ID] == identity["farm_id"]
            assert message.headers[HEADER_SCHEMA_VERSION] == "1"
            assert EventEnvelope.model_validate_json(message.body) == envelope
        assert ids_seen(probe) == set(by_id)
        for topic in {m.topic for m in probe.received}:  # in order per topic and farm
            seqs = [
                by_id[m.headers[HEADER_EVENT_ID]].seq for m in probe.received if m.topic == topic
            ]
            assert seqs == sorted(seqs)
    finally:
        await probe.close()


@pytest.mark.parametrize("broker", ["kafka"], indirect=True)
async def test_kafka_messages_are_keyed_by_farm(
    broker: BrokerCase, make_bus_central: MakeBusCentral, tmp_path: object
) -> None:
    central = await make_bus_central(
        f"sqlite+aiosqlite:///{tmp_path}/c.db", broker.settings(consume_commands=False)
    )
    probe = await broker.open_probe()
    try:
        async with httpx.AsyncClient(base_url=central.url) as client:
            farms = [await enrol(client, unique_farm()) for _ in range(2)]
            for identity in farms:
                await sync(client, identity, envelopes(identity, 6))
            await eventually(holds(lambda: len(probe.received) >= 12))

        keys = {m.headers[HEADER_FARM_ID]: m.key for m in probe.received}
        assert keys == {f["farm_id"]: f["farm_id"] for f in farms}
    finally:
        await probe.close()


async def test_events_synced_during_a_broker_outage_all_arrive_after_it_returns(
    database_url: str,
    broker: BrokerCase,
    make_bus_central: MakeBusCentral,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sync_server.bus.relay")
    central = await make_bus_central(database_url, broker.settings(consume_commands=False))
    relay = central.bridge.relay
    assert relay is not None
    probe = await broker.open_probe()
    try:
        async with httpx.AsyncClient(base_url=central.url) as client:
            identity = await enrol(client, unique_farm())
            before = envelopes(identity, 600)  # six relay batches: the cut lands mid-stream
            during = envelopes(identity, 150, first_seq=601)
            await sync(client, identity, before)
            broker.proxy.cut()
            for chunk in (during[:50], during[50:100], during[100:]):
                await sync(client, identity, chunk)
            await eventually(holds(lambda: relay.backoff.failures >= 2), seconds=30)

            broker.proxy.restore()
            everything = {str(e.id) for e in before + during}
            await eventually(holds(lambda: ids_seen(probe) >= everything), seconds=60)
            await eventually(holds(lambda: relay.backoff.last_error is None))

        assert ids_seen(probe) == everything
        assert len(probe.received) >= len(everything)  # raw duplicates are allowed
        logged = [r.getMessage() for r in caplog.records if r.name == "sync_server.bus.relay"]
        assert sum("failed, will retry" in m for m in logged) == 1
        assert sum("recovered" in m for m in logged) == 1
    finally:
        await probe.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_share_the_outbox_and_publish_each_row_once(
    database_url: str, broker: BrokerCase, make_bus_central: MakeBusCentral
) -> None:
    first = await make_bus_central(database_url, broker.settings(consume_commands=False))
    second = await make_bus_central(database_url, broker.settings(consume_commands=False))
    probe = await broker.open_probe()
    try:
        async with httpx.AsyncClient(base_url=first.url) as client:
            identity = await enrol(client, unique_farm())
            events = envelopes(identity, 1200)
            for start in range(0, len(events), 300):
                await sync(client, identity, events[start : start + 300])
            await eventually(holds(lambda: published(first, second) >= len(events)), seconds=60)
            await eventually(holds(lambda: len(probe.received) >= len(events)), seconds=60)
            await asyncio.sleep(SETTLE_S)

        assert published(first, second) == len(events)
        assert len(probe.received) == len(events)
        assert ids_seen(probe) == {str(e.id) for e in events}
    finally:
        await probe.close()


async def test_many_relay_batches_arrive_once_each_and_in_order_per_topic(
    database_url: str, broker: BrokerCase, make_bus_central: MakeBusCentral
) -> None:
    # 450 events over batches of 100: the relay reads ahead and marks behind while it
    # publishes, and must still keep each topic's order and publish each row once.
    central = await make_bus_central(database_url, broker.settings(consume_commands=False))
    probe = await broker.open_probe()
    try:
        async with httpx.AsyncClient(base_url=central.url) as client:
            identity = await enrol(client, unique_farm())
            events = envelopes(identity, 450)
            for start in range(0, len(events), 150):
                await sync(client, identity, events[start : start + 150])
            await eventually(holds(lambda: published(central) == len(events)), seconds=60)
            await eventually(holds(lambda: len(probe.received) >= len(events)), seconds=60)
            await asyncio.sleep(SETTLE_S)

        assert central.bridge.relay is not None
        assert central.bridge.relay.stats.batches >= 5
        by_id = {str(e.id): e for e in events}
        assert len(probe.received) == len(events)
        assert ids_seen(probe) == set(by_id)
        for topic in {m.topic for m in probe.received}:
            seqs = [
                by_id[m.headers[HEADER_EVENT_ID]].seq for m in probe.received if m.topic == topic
            ]
            assert seqs == sorted(seqs)
    finally:
        await probe.close()
