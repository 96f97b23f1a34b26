"""Recording events with their outbox rows, and reading the outbox for sync."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiosqlite

from appliance.hub import Hub
from appliance.store.db import Database
from contracts import ContractModel, EventType, new_id


@dataclass(frozen=True)
class StoredEvent:
    """An event as recorded on the appliance (farm and appliance ids are added at sync)."""

    seq: int
    id: UUID
    type: EventType
    correlation_id: str
    occurred_at: datetime
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> StoredEvent:
        return cls(
            seq=row["seq"],
            id=UUID(row["id"]),
            type=EventType(row["type"]),
            correlation_id=row["correlation_id"],
            occurred_at=datetime.fromisoformat(row["occurred_at"]),
            payload=json.loads(row["payload"]),
        )


@dataclass(frozen=True)
class OutboxRow:
    event: StoredEvent
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A pending outbox row as the sync agent sends it: the stored columns, payload as the
    JSON text it was stored as (validated when recorded; never parsed again to send it)."""

    seq: int
    id: str
    type: str
    correlation_id: str
    occurred_at: str
    payload: str
    attempts: int


class EventStore:
    """Events and their outbox; `recorded` is set whenever a new event is committed."""

    def __init__(self, db: Database, hub: Hub | None = None) -> None:
        self.db = db
        self.hub = hub or Hub()
        self.recorded = asyncio.Event()

    async def record(
        self,
        event_type: EventType,
        payload: ContractModel,
        *,
        correlation_id: str,
        occurred_at: datetime | None = None,
    ) -> StoredEvent:
        """Commit an event and its outbox row in one transaction, then return it."""
        async with self.db.transaction() as conn:
            event = await self.append(
                conn, event_type, payload, correlation_id=correlation_id, occurred_at=occurred_at
            )
        self.committed([event])
        return event

    async def append(
        self,
        conn: aiosqlite.Connection,
        event_type: EventType,
        payload: ContractModel,
        *,
        correlation_id: str,
        occurred_at: datetime | None = None,
    ) -> StoredEvent:
        """Write an event and its outbox row inside the caller's transaction.

        The caller calls `committed()` with the returned events after its commit.
        """
        when = (occurred_at or datetime.now(UTC)).astimezone(UTC)
        body = payload.model_dump(mode="json")
        event_id = new_id()
        async with conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events") as cur:
            row = await cur.fetchone()
        seq = int(row[0]) if row else 1
        await conn.execute(
            "INSERT INTO events (seq, id, type, correlation_id, occurred_at, payload)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                seq,
                str(event_id),
                event_type.value,
                correlation_id,
                when.isoformat(),
                json.dumps(body, separators=(",", ":")),
            ),
        )
        await conn.execute("INSERT INTO outbox (seq) VALUES (?)", (seq,))
        return StoredEvent(seq, event_id, event_type, correlation_id, when, body)

    def committed(self, events: list[StoredEvent]) -> None:
        """Tell the sync agent and hub subscribers about newly committed events."""
        self.recorded.set()
        for event in events:
            self.hub.publish(event)

    async def pending(
        self, limit: int, *, type_prefix: str | None = None, exclude: tuple[str, ...] = ()
    ) -> list[OutboxRow]:
        """The oldest unsent, unparked outbox rows in seq order, optionally of some types."""
        where, params = _pending_where(0, type_prefix, exclude)
        rows = await self.db.fetch_all(
            "SELECT e.*, o.attempts FROM outbox o JOIN events e ON e.seq = o.seq"
            f" WHERE {where} ORDER BY o.seq LIMIT ?",
            (*params, limit),
        )
        return [OutboxRow(StoredEvent.from_row(r), r["attempts"]) for r in rows]

    async def outbox_items(
        self,
        limit: int,
        *,
        after_seq: int = 0,
        type_prefix: str | None = None,
        exclude: tuple[str, ...] = (),
    ) -> list[OutboxItem]:
        """Like `pending`, as `OutboxItem`s, only rows after `after_seq`."""
        where, params = _pending_where(after_seq, type_prefix, exclude)
        rows = await self.db.fetch_all(
            "SELECT e.seq, e.id, e.type, e.correlation_id, e.occurred_at, e.payload, o.attempts"
            f" FROM outbox o JOIN events e ON e.seq = o.seq WHERE {where} ORDER BY o.seq LIMIT ?",
            (*params, limit),
        )
        return [OutboxItem(*r) for r in rows]

    async def last_seq(self) -> int:
        """The highest seq recorded so far (0 when none)."""
        row = await self.db.fetch_one("SELECT COALESCE(MAX(seq), 0) FROM outbox")
        return int(row[0]) if row else 0

    async def mark_sent(self, seqs: list[int]) -> None:
        if not seqs:
            return
        now = datetime.now(UTC).isoformat()
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE outbox SET state = 'sent', sent_at = ? WHERE seq = ?",
                [(now, seq) for seq in seqs],
            )

    async def park(self, seq: int, reason: str) -> None:
        """Set an event aside that central keeps refusing, so it never blocks the rest."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'parked', last_error = ? WHERE seq = ?", (reason, seq)
            )

    async def note_failure(self, seqs: list[int], error: str) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                [(error, seq) for seq in seqs],
            )

    async def list_events(
        self, *, after_seq: int = 0, limit: int = 100, types: list[EventType] | None = None
    ) -> list[StoredEvent]:
        where = "seq > ?"
        params: list[object] = [after_seq]
        if types:
            where += f" AND type IN ({','.join('?' * len(types))})"
            params += [t.value for t in types]
        rows = await self.db.fetch_all(
            f"SELECT * FROM events WHERE {where} ORDER BY seq LIMIT ?",
            (*params, limit),
        )
        return [StoredEvent.from_row(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        """Events recorded and outbox rows by state."""
        rows = await self.db.fetch_all("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
        counts = {"pending": 0, "sent": 0, "parked": 0}
        counts.update({r["state"]: r["n"] for r in rows})
        counts["recorded"] = sum(counts.values())
        return counts

    async def parked(self) -> list[tuple[StoredEvent, str]]:
        rows = await self.db.fetch_all(
            "SELECT e.*, o.last_error FROM outbox o JOIN events e ON e.seq = o.seq"
            " WHERE o.state = 'parked' ORDER BY o.seq"
        )
        return [(StoredEvent.from_row(r), r["last_error"] or "") for r in rows]


def _pending_where(
    after_seq: int, type_prefix: str | None, exclude: tuple[str, ...]
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) of pending outbox rows after `after_seq`."""
    where = "o.state = 'pending' AND o.seq > ?"
    params: list[object] = [after_seq]
    if type_prefix is not None:
        where += " AND substr(e.type, 1, ?) = ?"
        params += [len(type_prefix), type_prefix]
    for prefix in exclude:
        where += " AND substr(e.type, 1, ?) <> ?"
        params += [len(prefix), prefix]
    return where, params
