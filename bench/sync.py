"""Draining a farm's backlog: events and media queued while central was unreachable.

    python -m bench.sync [--database sqlite|postgresql] [--bus kafka|rabbitmq|nats]
                         [--events 100000] [--media 500] [--media-kb 200] [--batch-size N]
                         [--max-in-flight N]

A real appliance (aiohttp app, SQLite store, sync agent, media uploader) runs in this process;
a real central (`sync_server.app.run`: uvicorn, SQLite or PostgreSQL, bus bridge, local object
store) runs in its own process, both on loopback. After enrolment central is stopped; the
events are recorded through the appliance's store, and the media files are written to disk
with their `media` rows made as the recorder makes them (`ready`, with `incident.media_ready`).
Then central starts again (the link is back) and the clock runs until every event is in
central's database and confirmed by the broker, and every file is uploaded. Afterwards
`--raw-events` messages go through the same bus publisher alone, for its raw rate.
RabbitMQ (127.0.0.1:5672) and NATS (127.0.0.1:4222) are the machine's; for Kafka a tansu
broker is started. Without --database both run, SQLite first.

Progress lines while draining; a summary line per database; last line, for the slower run:
`BENCH sync bus=<kind> drain_s=<..> events_per_s=<..> media_mb_s=<..>
raw_bus_events_per_s=<..> ratio=<events_per_s/raw_bus_events_per_s>`.
events_per_s counts until the events are in central and on the bus; media_mb_s from the
moment the event outbox is drained (media waits for events) until the last upload.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import nats
from aiohttp import web
from sqlalchemy import func
from sqlmodel import col, select

from appliance import keys
from appliance.app import create_app as create_appliance
from appliance.media.store import MediaStore
from appliance.settings import ApplianceSettings, HttpSettings, MqttSettings, SyncSettings
from appliance.store.events import EventStore, StoredEvent
from bench.bus import envelopes as bus_envelopes
from bench.bus import free_port, raw_publish, tansu
from bench.postgres import temporary_database
from contracts import EventType, MediaKind, TelemetrySample, new_id
from sync_server.bus.bridge import make_publisher
from sync_server.bus.outbox import count_unpublished
from sync_server.bus.settings import BusSettings
from sync_server.db import make_engine, session_factory
from sync_server.models import EventRecord

ADMIN_TOKEN = "bench-admin-token"
POSTGRES_DSN = os.environ.get(
    "BYRE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RECORD_BATCH = 1000
POLL_S = 0.5
PROGRESS_S = 2.0
TIMEOUT_S = 600.0


def say(text: str) -> None:
    print(text, flush=True)


async def record_telemetry(events: EventStore, count: int, batch: int = 1000) -> list[StoredEvent]:
    """Record `count` telemetry events (seq-numbered by the store) in transactions of `batch`."""
    recorded: list[StoredEvent] = []
    for start in range(0, count, batch):
        chunk: list[StoredEvent] = []
        async with events.db.transaction() as conn:
            for n in range(start, min(count, start + batch)):
                sample = TelemetrySample(source_id="bench", values={"n": float(n)})
                chunk.append(
                    await events.append(
                        conn, EventType.TELEMETRY_SYSTEM, sample, correlation_id=f"bench-{n}"
                    )
                )
        events.committed(chunk)
        recorded += chunk
    return recorded


async def enrol(app: web.Application, server_url: str, code: str) -> str:
    """Enrol the appliance at central as its enrolment endpoint does; returns its id."""
    identity = await app[keys.CENTRAL].enrol(server_url, code, app[keys.SETTINGS].name)
    await app[keys.IDENTITIES].save(identity)
    app[keys.SYNC].status.identity_changed.set()
    return identity.appliance_id


async def queue_media(app: web.Application, count: int, size: int) -> int:
    """Write `count` snapshot files of `size` random bytes, recorded as the recorder does
    (row `recording`, then `ready` with its `incident.media_ready` event); returns the bytes."""
    store = MediaStore(app[keys.EVENTS])
    directory = app[keys.SETTINGS].data_dir / "media" / "bench"
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    for n in range(count):
        media_id = new_id()
        path = directory / f"{media_id}.jpg"
        data = os.urandom(size)
        await asyncio.to_thread(path.write_bytes, data)
        now = datetime.now(UTC)
        await store.begin(media_id, None, "cam-bench", MediaKind.SNAPSHOT, "image/jpeg", path, now)
        await store.complete(
            media_id,
            size_bytes=size,
            sha256=hashlib.sha256(data).hexdigest(),
            started_at=now,
            ended_at=now,
            correlation_id=f"cam-bench:snapshot:{n}",
        )
    return count * size


@contextlib.asynccontextmanager
async def bus_config(kind: str, uid: str) -> AsyncIterator[dict[str, Any]]:
    """Central's bus settings (as data) with names unique to the run; removed afterwards."""
    if kind == "kafka":
        with tansu() as bootstrap:
            yield {
                "kind": "kafka",
                "consume_commands": False,
                "kafka": {"bootstrap_servers": bootstrap, "idempotent": False},
            }
        return
    if kind == "rabbitmq":
        names = {
            "exchange": f"byre.bench.{uid}",
            "events_queue": f"byre.bench.{uid}.events",
            "commands_queue": f"byre.bench.{uid}.commands",
            "dead_letter_exchange": f"byre.bench.{uid}.dead",
            "dead_letter_queue": f"byre.bench.{uid}.commands.dead",
        }
        try:
            yield {"kind": "rabbitmq", "consume_commands": False, "rabbitmq": names}
        finally:
            connection = await aio_pika.connect(BusSettings().rabbitmq.url.get_secret_value())
            async with connection:
                channel = await connection.channel()
                await channel.queue_delete(names["events_queue"])
                await channel.exchange_delete(names["exchange"])
        return
    stream = f"BYRE_BENCH_{uid}"
    try:
        yield {
            "kind": "nats",
            "consume_commands": False,
            "nats": {"stream": stream, "subject_prefix": f"bench{uid}"},
        }
    finally:
        client = await nats.connect(BusSettings().nats.url.get_secret_value())
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(stream)
        await client.close()


@contextlib.asynccontextmanager
async def central_database(kind: str, directory: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'central.db'}"
        return
    async with temporary_database(POSTGRES_DSN, "byre_bench_") as url:
        yield url


_SERVE = (
    "import json, sys\n"
    "from sync_server.app import run\n"
    "from sync_server.settings import CentralSettings\n"
    "run(CentralSettings(**json.load(open(sys.argv[1]))))\n"
)


class CentralProcess:
    """Central in its own process, as in production (`sync_server.app.run`)."""

    def __init__(self, config: dict[str, Any], directory: Path) -> None:
        self.url = f"http://127.0.0.1:{config['port']}"
        self.config = directory / "central.json"
        self.config.write_text(json.dumps(config))
        self.log = directory / "central.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BYRE_")}
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _SERVE,
                str(self.config),
                env=env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        async with httpx.AsyncClient() as client:
            for _ in range(1200):
                if self.process.returncode is not None:
                    raise RuntimeError(f"central exited:\n{self.log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/healthz", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError("central did not start within 60 s")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 30)

    async def enrolment_code(self) -> str:
        async with httpx.AsyncClient() as client:
            reply = await client.post(
                f"{self.url}/api/v1/enrolment-codes",
                json={"farm_id": "farm-bench"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        reply.raise_for_status()
        code: str = reply.json()["code"]
        return code


@contextlib.asynccontextmanager
async def running_appliance(
    directory: Path, batch_size: int, max_in_flight: int
) -> AsyncIterator[web.Application]:
    settings = ApplianceSettings(
        environment="production",
        name="bench-box",
        data_dir=directory,
        api_token="bench-api-token",  # type: ignore[arg-type]
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        mqtt=MqttSettings(host="127.0.0.1", port=free_port()),
        sync=SyncSettings(
            batch_size=batch_size,
            max_in_flight=max_in_flight,
            idle_interval_s=0.5,
            retry_min_s=0.2,
            retry_max_s=1.0,
            media_retry_max_s=5.0,
        ),
    )
    runner = web.AppRunner(create_appliance(settings))
    await runner.setup()  # runs every context: store, sync agent, media uploader, ...
    try:
        yield runner.app
    finally:
        await runner.cleanup()


@dataclass
class Result:
    database: str
    bus: str
    events: int
    drain_s: float
    events_s: float
    media_bytes: int
    media_s: float
    raw_bus_events_per_s: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.events_s

    @property
    def media_mb_s(self) -> float:
        return self.media_bytes / 1e6 / self.media_s if self.media_bytes else 0.0

    def line(self) -> str:
        return (
            f"BENCH sync bus={self.bus} drain_s={self.drain_s:.1f} "
            f"events_per_s={self.events_per_s:.0f} media_mb_s={self.media_mb_s:.1f} "
            f"raw_bus_events_per_s={self.raw_bus_events_per_s:.0f} "
            f"ratio={self.events_per_s / self.raw_bus_events_per_s:.3f}"
        )


@dataclass
class Progress:
    central: int = 0
    unpublished: int = 0
    pending: int = 0
    uploaded: int = 0


async def observe(app: web.Application, central_sessions: Any, appliance_id: str) -> Progress:
    db = app[keys.DATABASE]
    pending = await db.fetch_one("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
    uploaded = await db.fetch_one("SELECT COUNT(*) FROM media WHERE uploaded_at IS NOT NULL")
    query = select(func.count()).where(col(EventRecord.appliance_id) == appliance_id)
    async with central_sessions() as session:
        central = (await session.exec(query)).one()
        unpublished = await count_unpublished(session)
    return Progress(
        central=central,
        unpublished=unpublished,
        pending=int(pending[0]) if pending else 0,
        uploaded=int(uploaded[0]) if uploaded else 0,
    )


async def run_once(args: argparse.Namespace, database: str, directory: Path) -> Result:
    uid = uuid.uuid4().hex[:8]
    async with (
        bus_config(args.bus, uid) as bus,
        central_database(database, directory) as database_url,
    ):
        config = {
            "environment": "production",
            "database_url": database_url,
            "host": "127.0.0.1",
            "port": free_port(),
            "admin_token": ADMIN_TOKEN,
            "log_level": "WARNING",
            "bus": bus,
            "media": {
                "backend": "local",
                "local": {
                    "directory": str(directory / "central-media"),
                    "url_secret": "bench-media-url-secret-0123456789abcdef",
                },
            },
        }
        central = CentralProcess(config, directory)
        await central.start()
        try:
            async with running_appliance(
                directory / "appliance", args.batch_size, args.max_in_flight
            ) as app:
                appliance_id = await enrol(app, central.url, await central.enrolment_code())
                await central.stop()
                say(f"[{database}] central is down; queueing {args.events:,} events ...")
                started = time.perf_counter()
                await record_telemetry(app[keys.EVENTS], args.events, RECORD_BATCH)
                say(
                    f"[{database}] queued in {time.perf_counter() - started:.1f} s; "
                    f"writing {args.media} media files of {args.media_kb} KB ..."
                )
                media_bytes = await queue_media(app, args.media, args.media_kb * 1024)
                total = (await app[keys.EVENTS].counts())["recorded"]
                say(f"[{database}] {total:,} events and {args.media} files queued; link back")
                await central.start()
                result = await drain(app, database, args.bus, database_url, appliance_id, total)
                result.media_bytes = media_bytes
        finally:
            await central.stop()
        result.raw_bus_events_per_s = await raw_rate(bus, args.raw_events)
    return result


async def drain(
    app: web.Application,
    database: str,
    bus: str,
    database_url: str,
    appliance_id: str,
    total: int,
) -> Result:
    """Time from the link's return until every event is in central and on the bus, and
    every media file is uploaded."""
    row = await app[keys.DATABASE].fetch_one("SELECT COUNT(*) FROM media")
    media_total = int(row[0]) if row else 0
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    t0 = time.perf_counter()
    events_done = outbox_done = media_done = None
    shown = t0
    try:
        while True:
            p = await observe(app, sessions, appliance_id)
            now = time.perf_counter()
            if outbox_done is None and p.pending == 0:
                outbox_done = now
            if events_done is None and p.central >= total and p.unpublished == 0:
                events_done = now
            if media_done is None and p.uploaded >= media_total:
                media_done = now
            if now - shown >= PROGRESS_S or (events_done and media_done):
                shown = now
                say(
                    f"[{database}] {now - t0:6.1f} s  central {p.central:,}/{total:,}  "
                    f"bus backlog {p.unpublished:,}  outbox {p.pending:,}  "
                    f"media {p.uploaded}/{media_total}"
                )
            if events_done and media_done:
                break
            if now - t0 > TIMEOUT_S:
                raise RuntimeError(f"not drained within {TIMEOUT_S:.0f} s")
            await asyncio.sleep(POLL_S)
    finally:
        await engine.dispose()
    assert outbox_done is not None
    return Result(
        database=database,
        bus=bus,
        events=total,
        drain_s=max(events_done, media_done) - t0,
        events_s=events_done - t0,
        media_bytes=0,
        media_s=max(media_done - outbox_done, 1e-3),
        raw_bus_events_per_s=0.0,
    )


async def raw_rate(bus: dict[str, Any], count: int) -> float:
    """The bus client's own publish rate: the same publisher, no database, no HTTP."""
    settings = BusSettings(**bus)
    elapsed = await raw_publish(make_publisher(settings), list(bus_envelopes(count)))
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--bus", choices=["kafka", "rabbitmq", "nats"], default="rabbitmq")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--media", type=int, default=500)
    parser.add_argument("--media-kb", type=int, default=200)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=SyncSettings().batch_size,
        help="events per sync request (default: the appliance's default)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=SyncSettings().max_in_flight,
        help="sync requests under way at once (default: the appliance's default)",
    )
    parser.add_argument(
        "--raw-events", type=int, default=20_000, help="messages for the raw bus rate"
    )
    args = parser.parse_args()
    results = []
    for database in [args.database] if args.database else ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory(prefix="byre-bench-sync-") as tmp:
            result = asyncio.run(run_once(args, database, Path(tmp)))
        say(f"database={database}: {result.line()}")
        results.append(result)
    print(max(results, key=lambda r: r.drain_s).line())


if __name__ == "__main__":
    main()
