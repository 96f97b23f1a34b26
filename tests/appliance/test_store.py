"""The appliance's SQLite store: WAL, migrations, events with their outbox rows."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from appliance.errors import StoreError
from appliance.store import Database, EventStore
from appliance.store.migrations import MIGRATIONS
from contracts import EventType, FarmEvent, FarmEventKind, Severity


def make_farm_event(summary: str = "cow out") -> FarmEvent:
    return FarmEvent(kind=FarmEventKind.ESCAPE, severity=Severity.WARNING, summary=summary)


async def open_store(path: Path) -> tuple[Database, EventStore]:
    db = Database(path)
    await db.open()
    return db, EventStore(db)


async def insert_event_then_orphan_outbox_row(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO events (seq, id, type, correlation_id, occurred_at, payload)"
            " VALUES (1, 'x', 'incident.event', 'c', 't', '{}')"
        )
        await conn.execute("INSERT INTO outbox (seq) VALUES (99)")  # no such event


async def test_database_uses_wal_and_current_schema(tmp_path: Path) -> None:
    db, _ = await open_store(tmp_path / "a.db")
    try:
        mode = await db.fetch_one("PRAGMA journal_mode")
        version = await db.fetch_one("PRAGMA user_version")
        assert mode is not None
        assert version is not None
        assert (mode[0], version[0]) == ("wal", len(MIGRATIONS))
    finally:
        await db.close()


async def test_concurrent_records_get_gapless_sequence_with_outbox_rows(tmp_path: Path) -> None:
    db, events = await open_store(tmp_path / "a.db")
    try:
        await asyncio.gather(
            *(
                events.record(EventType.FARM_EVENT, make_farm_event(), correlation_id=f"c{n}")
                for n in range(50)
            )
        )
        seqs = [r[0] for r in await db.fetch_all("SELECT seq FROM events ORDER BY seq")]
        outbox = [r[0] for r in await db.fetch_all("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, 51))
        assert outbox == seqs
    finally:
        await db.close()


async def test_recorded_events_survive_reopen_and_stay_pending(tmp_path: Path) -> None:
    db, events = await open_store(tmp_path / "a.db")
    stored = await events.record(EventType.FARM_EVENT, make_farm_event("x"), correlation_id="c")
    await db.close()

    db, events = await open_store(tmp_path / "a.db")
    try:
        pending = await events.pending(10)
        assert [row.event for row in pending] == [stored]
    finally:
        await db.close()


async def test_failed_transaction_leaves_no_event_and_no_outbox_row(tmp_path: Path) -> None:
    db, events = await open_store(tmp_path / "a.db")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            await insert_event_then_orphan_outbox_row(db)
        assert await events.counts() == {"pending": 0, "sent": 0, "parked": 0, "recorded": 0}
        assert await db.fetch_all("SELECT * FROM events") == []
    finally:
        await db.close()


async def test_sent_and_parked_events_leave_the_pending_list(tmp_path: Path) -> None:
    db, events = await open_store(tmp_path / "a.db")
    try:
        for n in range(3):
            await events.record(EventType.FARM_EVENT, make_farm_event(), correlation_id=f"{n}")
        await events.mark_sent([1])
        await events.park(2, "farm_id: is not the sending appliance's farm")

        assert [r.event.seq for r in await events.pending(10)] == [3]
        assert await events.counts() == {"pending": 1, "sent": 1, "parked": 1, "recorded": 3}
        [(parked, reason)] = await events.parked()
        assert parked.seq == 2
        assert reason.startswith("farm_id")
    finally:
        await db.close()


async def test_database_from_newer_software_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db = Database(path)
    with pytest.raises(StoreError, match="newer than this software"):
        await db.open()
    await db.close()
