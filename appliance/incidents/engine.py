"""The incident engine: one active incident per correlation id, with case logic.

Farm events (`incident.event`) are read from the store in seq order from a cursor that is
saved in the same transaction as the incident change, so every event is applied exactly
once, also across crashes. Each change writes an `incident.*` event with its outbox row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import aiosqlite

from appliance.incidents.errors import IncidentClosed, IncidentNotFound
from appliance.incidents.settings import IncidentSettings
from appliance.store.events import EventStore, StoredEvent
from contracts import (
    EventType,
    FarmEvent,
    FarmEventKind,
    Incident,
    IncidentState,
    Severity,
    new_id,
)

log = logging.getLogger(__name__)

CURSOR_KEY = "incidents.cursor"
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class IncidentEngine:
    def __init__(
        self, events: EventStore, settings: IncidentSettings, clock: Clock = utc_now
    ) -> None:
        self.events = events
        self.db = events.db
        self.settings = settings
        self.clock = clock
        self.suppressed = 0  # events dropped by cooldown

    async def run(self) -> None:
        """Apply new farm events as they are committed; check timers every tick."""
        async with self.events.hub.subscribe() as queue:
            while True:
                await self.catch_up()
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.tick_s):
                        await queue.get()
                while not queue.empty():
                    queue.get_nowait()

    async def catch_up(self) -> int:
        """Apply every farm event after the cursor; returns how many."""
        applied = 0
        while True:
            batch = await self.events.list_events(
                after_seq=await self._cursor(), limit=200, types=[EventType.FARM_EVENT]
            )
            if not batch:
                return applied
            for event in batch:
                await self.apply(event)
                applied += 1

    async def apply(self, event: StoredEvent) -> None:
        farm_event = FarmEvent.model_validate(event.payload)
        now = self.clock()
        async with self.db.transaction() as conn:
            written = await self._apply(conn, event, farm_event, now)
            await conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (CURSOR_KEY, str(event.seq)),
            )
        self.events.committed(written)

    async def _apply(
        self, conn: aiosqlite.Connection, event: StoredEvent, farm: FarmEvent, now: datetime
    ) -> list[StoredEvent]:
        active = await _one(
            conn,
            "SELECT * FROM incidents WHERE correlation_id = ? AND state != 'resolved'",
            (event.correlation_id,),
        )
        if active is not None:
            return await self._repeat(conn, active, event, farm, now)
        recent = await _one(
            conn,
            "SELECT resolved_at FROM incidents WHERE correlation_id = ? AND state = 'resolved'"
            " ORDER BY resolved_at DESC LIMIT 1",
            (event.correlation_id,),
        )
        quiet_until = (
            datetime.fromisoformat(recent["resolved_at"])
            + timedelta(seconds=self.settings.cooldown(farm.kind))
            if recent
            else None
        )
        if quiet_until is not None and event.occurred_at < quiet_until:
            self.suppressed += 1
            return []
        incident_id = new_id()
        await conn.execute(
            "INSERT INTO incidents (id, correlation_id, kind, severity, state, title, opened_at,"
            " updated_at, last_seen_at, camera_id, device_id, zone, first_event_seq)"
            " VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(incident_id),
                event.correlation_id,
                farm.kind.value,
                farm.severity.value,
                farm.summary[:200],
                now.isoformat(),
                now.isoformat(),
                event.occurred_at.isoformat(),
                farm.camera_id,
                farm.device_id,
                farm.zone,
                event.seq,
            ),
        )
        log.info("incident opened: %s (%s)", farm.summary, event.correlation_id)
        return [await self._publish(conn, incident_id, EventType.INCIDENT_OPENED)]

    async def _repeat(
        self,
        conn: aiosqlite.Connection,
        row: aiosqlite.Row,
        event: StoredEvent,
        farm: FarmEvent,
        now: datetime,
    ) -> list[StoredEvent]:
        severity = max(Severity(row["severity"]), farm.severity, key=_RANK.__getitem__)
        last_seen = max(datetime.fromisoformat(row["last_seen_at"]), event.occurred_at)
        since_update = (now - datetime.fromisoformat(row["updated_at"])).total_seconds()
        publish = severity != row["severity"] or since_update >= self.settings.update_interval_s
        await conn.execute(
            "UPDATE incidents SET occurrences = occurrences + 1, severity = ?, last_seen_at = ?,"
            " updated_at = CASE WHEN ? THEN ? ELSE updated_at END WHERE id = ?",
            (severity.value, last_seen.isoformat(), publish, now.isoformat(), row["id"]),
        )
        if not publish:
            return []
        return [await self._publish(conn, UUID(row["id"]), EventType.INCIDENT_UPDATED)]

    async def tick(self) -> None:
        """Auto-resolve incidents whose condition cleared; escalate unacknowledged ones."""
        now = self.clock()
        written: list[StoredEvent] = []
        async with self.db.transaction() as conn:
            for row in await _all(conn, "SELECT * FROM incidents WHERE state != 'resolved'"):
                kind = FarmEventKind(row["kind"])
                quiet = now - datetime.fromisoformat(row["last_seen_at"])
                if quiet.total_seconds() >= self.settings.auto_resolve_after(kind):
                    note = f"condition cleared for {quiet.total_seconds():.0f} s"
                    written.append(await self._resolve(conn, row, now, note, "auto"))
                    continue
                level = row["escalation_level"]
                due = datetime.fromisoformat(row["opened_at"]) + timedelta(
                    seconds=self.settings.escalate_after_s * (level + 1)
                )
                if (
                    row["state"] == "open"
                    and level < self.settings.max_escalation_level
                    and now >= due
                ):
                    await conn.execute(
                        "UPDATE incidents SET escalation_level = ?, updated_at = ? WHERE id = ?",
                        (level + 1, now.isoformat(), row["id"]),
                    )
                    log.warning("incident %s escalated to level %d", row["id"], level + 1)
                    written.append(
                        await self._publish(conn, UUID(row["id"]), EventType.INCIDENT_ESCALATED)
                    )
        self.events.committed(written)

    async def acknowledge(self, incident_id: UUID, by: str) -> Incident:
        async with self.db.transaction() as conn:
            row = await self._get(conn, incident_id)
            if row["state"] == "resolved":
                raise IncidentClosed(f"incident {incident_id} is resolved")
            written = []
            if row["state"] == "open":
                await conn.execute(
                    "UPDATE incidents SET state = 'acknowledged', acknowledged_by = ?,"
                    " updated_at = ? WHERE id = ?",
                    (by, self.clock().isoformat(), str(incident_id)),
                )
                written.append(
                    await self._publish(conn, incident_id, EventType.INCIDENT_ACKNOWLEDGED)
                )
            incident = await self._incident(conn, incident_id)
        self.events.committed(written)
        return incident

    async def resolve(self, incident_id: UUID, by: str, note: str | None) -> Incident:
        async with self.db.transaction() as conn:
            row = await self._get(conn, incident_id)
            written = []
            if row["state"] != "resolved":
                written.append(await self._resolve(conn, row, self.clock(), note, by))
            incident = await self._incident(conn, incident_id)
        self.events.committed(written)
        return incident

    async def get(self, incident_id: UUID) -> Incident:
        return await self._incident(self.db.conn, incident_id)

    async def list_incidents(
        self,
        *,
        states: list[IncidentState] | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Incident]:
        """Newest first; `before` is the id of the last incident of the previous page."""
        where = ["1 = 1"]
        params: list[object] = []
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            params += [s.value for s in states]
        if before:
            where.append("id < ?")
            params.append(before)
        rows = await self.db.fetch_all(
            f"SELECT * FROM incidents WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [_incident_from_row(r) for r in rows]

    async def _resolve(
        self,
        conn: aiosqlite.Connection,
        row: aiosqlite.Row,
        now: datetime,
        note: str | None,
        by: str,
    ) -> StoredEvent:
        await conn.execute(
            "UPDATE incidents SET state = 'resolved', resolved_at = ?, updated_at = ?, note = ?"
            " WHERE id = ?",
            (now.isoformat(), now.isoformat(), note, row["id"]),
        )
        log.info("incident %s resolved by %s", row["id"], by)
        return await self._publish(conn, UUID(row["id"]), EventType.INCIDENT_RESOLVED)

    async def _publish(
        self, conn: aiosqlite.Connection, incident_id: UUID, event_type: EventType
    ) -> StoredEvent:
        incident = await self._incident(conn, incident_id)
        return await self.events.append(
            conn, event_type, incident, correlation_id=incident.correlation_id
        )

    async def _get(self, conn: aiosqlite.Connection, incident_id: UUID) -> aiosqlite.Row:
        row = await _one(conn, "SELECT * FROM incidents WHERE id = ?", (str(incident_id),))
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        return row

    async def _incident(self, conn: aiosqlite.Connection, incident_id: UUID) -> Incident:
        return _incident_from_row(await self._get(conn, incident_id))

    async def _cursor(self) -> int:
        row = await self.db.fetch_one("SELECT value FROM kv WHERE key = ?", (CURSOR_KEY,))
        return int(row["value"]) if row else 0


def _incident_from_row(row: aiosqlite.Row) -> Incident:
    return Incident(
        incident_id=UUID(row["id"]),
        correlation_id=row["correlation_id"],
        kind=FarmEventKind(row["kind"]),
        severity=Severity(row["severity"]),
        state=IncidentState(row["state"]),
        title=row["title"],
        opened_at=datetime.fromisoformat(row["opened_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        occurrences=row["occurrences"],
        escalation_level=row["escalation_level"],
        acknowledged_by=row["acknowledged_by"],
        note=row["note"],
    )


async def _one(
    conn: aiosqlite.Connection, sql: str, params: tuple[object, ...]
) -> aiosqlite.Row | None:
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _all(conn: aiosqlite.Connection, sql: str) -> list[aiosqlite.Row]:
    async with conn.execute(sql) as cursor:
        return list(await cursor.fetchall())
