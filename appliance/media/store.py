"""The `media` table: one row per clip or snapshot file, and its `incident.media_ready` event.

A file that is complete is marked `ready` in the same transaction that records its
`incident.media_ready` event (with its outbox row), so central hears of exactly the files
that exist. Reads of the `incidents` table here are read-only lookups (which camera, when the
event happened, whether the incident is still open); the incident engine owns that table.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import aiosqlite

from appliance.media.encode import read_back
from appliance.media.errors import EncodeError, MediaNotFound, MediaNotReady
from appliance.store.events import EventStore, StoredEvent
from contracts import EventType, MediaKind, MediaRecord

log = logging.getLogger(__name__)

_NEVER_EVICTED = "('open', 'acknowledged')"
CUT_OFF = "cut off: the appliance stopped while recording"


@dataclass(frozen=True)
class MediaRow:
    media_id: UUID
    incident_id: UUID | None
    camera_id: str
    kind: MediaKind
    content_type: str
    path: Path
    state: str
    size_bytes: int | None
    sha256: str | None
    started_at: datetime
    ended_at: datetime | None
    created_at: datetime
    error: str | None
    """Why a `failed` file failed."""

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> MediaRow:
        return cls(
            media_id=UUID(row["media_id"]),
            incident_id=UUID(row["incident_id"]) if row["incident_id"] else None,
            camera_id=row["camera_id"],
            kind=MediaKind(row["kind"]),
            content_type=row["content_type"],
            path=Path(row["path"]),
            state=row["state"],
            size_bytes=row["size_bytes"],
            sha256=row["sha256"],
            started_at=datetime.fromisoformat(row["started_at"]),
            ended_at=datetime.fromisoformat(row["ended_at"]) if row["ended_at"] else None,
            created_at=datetime.fromisoformat(row["created_at"]),
            error=row["error"],
        )


@dataclass(frozen=True)
class IncidentSource:
    """Where and when a camera incident happened (from the incident engine's table)."""

    incident_id: UUID
    correlation_id: str
    camera_id: str
    first_seen: datetime
    """Capture time of the frame of the incident's first event."""
    last_seen: datetime
    """Capture time of the frame of its latest event."""


@dataclass
class Settled:
    """What became of the rows a stop left `recording`."""

    finished: int = 0
    failed: int = 0


def utc_iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


class MediaStore:
    def __init__(self, events: EventStore) -> None:
        self.events = events
        self.db = events.db

    async def incident_source(self, incident_id: UUID) -> IncidentSource | None:
        """The camera and event times of a camera incident; None for other incidents."""
        row = await self.db.fetch_one(
            "SELECT i.id, i.correlation_id, i.camera_id, i.last_seen_at, e.occurred_at"
            " FROM incidents i JOIN events e ON e.seq = i.first_event_seq WHERE i.id = ?",
            (str(incident_id),),
        )
        if row is None or not row["camera_id"]:
            return None
        return _source(row)

    async def begin(
        self,
        media_id: UUID,
        incident_id: UUID | None,
        camera_id: str,
        kind: MediaKind,
        content_type: str,
        path: Path,
        started_at: datetime,
    ) -> None:
        """Record a file that is being written (state `recording`)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO media (media_id, incident_id, camera_id, kind, content_type, path,"
                " state, started_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'recording', ?, ?)",
                (
                    str(media_id),
                    str(incident_id) if incident_id else None,
                    camera_id,
                    kind.value,
                    content_type,
                    str(path),
                    utc_iso(started_at),
                    utc_iso(datetime.now(UTC)),
                ),
            )

    async def complete(
        self,
        media_id: UUID,
        *,
        size_bytes: int,
        sha256: str,
        started_at: datetime,
        ended_at: datetime,
        correlation_id: str,
    ) -> StoredEvent:
        """Mark the file ready and record `incident.media_ready`, in one transaction."""
        async with self.db.transaction() as conn:
            row = await _row(conn, media_id)
            if row is None or row["state"] != "recording":
                raise MediaNotFound(f"media {media_id} is not being recorded")
            await conn.execute(
                "UPDATE media SET state = 'ready', size_bytes = ?, sha256 = ?, started_at = ?,"
                " ended_at = ? WHERE media_id = ?",
                (size_bytes, sha256, utc_iso(started_at), utc_iso(ended_at), str(media_id)),
            )
            record = MediaRecord(
                media_id=media_id,
                incident_id=UUID(row["incident_id"]) if row["incident_id"] else None,
                camera_id=row["camera_id"],
                kind=MediaKind(row["kind"]),
                content_type=row["content_type"],
                size_bytes=size_bytes,
                sha256=sha256,
                started_at=started_at,
                ended_at=ended_at,
            )
            event = await self.events.append(
                conn, EventType.MEDIA_READY, record, correlation_id=correlation_id
            )
        self.events.committed([event])
        return event

    async def fail(self, media_id: UUID, reason: str) -> None:
        log.error("media %s failed: %s", media_id, reason)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE media SET state = 'failed', error = ?, ended_at = COALESCE(ended_at, ?)"
                " WHERE media_id = ? AND state = 'recording'",
                (reason, utc_iso(datetime.now(UTC)), str(media_id)),
            )

    async def settle_unfinished(self) -> Settled:
        """At start, before recording: rows a stop left `recording` get a final state.

        A file under its final name is complete (written as `.part`, fsynced, renamed): the
        stop came before its row was marked, so it is finished now. Any other file was cut
        off: what is left of it is deleted and the row fails with the reason."""
        rows = await self.db.fetch_all(
            "SELECT m.*, i.correlation_id FROM media m LEFT JOIN incidents i"
            " ON i.id = m.incident_id WHERE m.state = 'recording'"
        )
        settled = Settled()
        for row in rows:
            media_id, path, kind = UUID(row["media_id"]), Path(row["path"]), MediaKind(row["kind"])
            try:
                written, length = await asyncio.to_thread(read_back, path, kind)
            except EncodeError:
                await asyncio.to_thread(_remove, path)
                await self.fail(media_id, CUT_OFF)
                settled.failed += 1
                continue
            started = datetime.fromisoformat(row["started_at"])
            await self.complete(
                media_id,
                size_bytes=written.size_bytes,
                sha256=written.sha256,
                started_at=started,
                ended_at=started + timedelta(seconds=length),
                correlation_id=row["correlation_id"] or row["camera_id"],
            )
            settled.finished += 1
        return settled

    async def has_snapshot(self, incident_id: UUID) -> bool:
        """Whether the incident has a snapshot that is being written, ready or was evicted."""
        row = await self.db.fetch_one(
            "SELECT 1 FROM media WHERE incident_id = ? AND kind = 'snapshot'"
            " AND state != 'failed' LIMIT 1",
            (str(incident_id),),
        )
        return row is not None

    async def open_incidents(self) -> dict[UUID, IncidentSource]:
        """The camera incidents that are not resolved, by id."""
        rows = await self.db.fetch_all(
            "SELECT i.id, i.correlation_id, i.camera_id, i.last_seen_at, e.occurred_at"
            " FROM incidents i JOIN events e ON e.seq = i.first_event_seq"
            f" WHERE i.state IN {_NEVER_EVICTED} AND i.camera_id IS NOT NULL"
        )
        return {UUID(r["id"]): _source(r) for r in rows if r["camera_id"]}

    async def get(self, media_id: UUID) -> MediaRow:
        row = await _row(self.db.conn, media_id)
        if row is None:
            raise MediaNotFound(f"no media {media_id}")
        return MediaRow.from_row(row)

    async def file(self, media_id: UUID) -> MediaRow:
        """A ready file's row; `MediaNotReady` while recording, `MediaNotFound` otherwise."""
        media = await self.get(media_id)
        if media.state == "recording":
            raise MediaNotReady(f"media {media_id} is still being recorded")
        if media.state != "ready":
            raise MediaNotFound(f"media {media_id} is {media.state}")
        return media

    async def for_incident(self, incident_id: UUID) -> list[MediaRow]:
        rows = await self.db.fetch_all(
            "SELECT * FROM media WHERE incident_id = ? ORDER BY kind DESC, started_at",
            (str(incident_id),),
        )
        return [MediaRow.from_row(r) for r in rows]

    # -- retention --

    async def ready_bytes(self) -> int:
        row = await self.db.fetch_one(
            "SELECT COALESCE(SUM(size_bytes), 0) FROM media WHERE state = 'ready'"
        )
        return int(row[0]) if row else 0

    async def evictable(self, *, created_before: datetime | None, limit: int) -> list[MediaRow]:
        """Oldest first: finished files whose incident is resolved (or gone, or none)."""
        where = (
            "m.state IN ('ready', 'failed') AND NOT EXISTS (SELECT 1 FROM incidents i"
            f" WHERE i.id = m.incident_id AND i.state IN {_NEVER_EVICTED})"
        )
        params: list[object] = []
        if created_before is not None:
            where += " AND m.created_at < ?"
            params.append(utc_iso(created_before))
        rows = await self.db.fetch_all(
            f"SELECT m.* FROM media m WHERE {where} ORDER BY m.created_at, m.media_id LIMIT ?",
            (*params, limit),
        )
        return [MediaRow.from_row(r) for r in rows]

    async def evicted_paths(self) -> list[Path]:
        rows = await self.db.fetch_all("SELECT path FROM media WHERE state = 'evicted'")
        return [Path(r["path"]) for r in rows]

    async def mark_evicted(self, media_id: UUID) -> bool:
        """Evict unless its incident was reopened meanwhile; True when evicted."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE media SET state = 'evicted' WHERE media_id = ?"
                " AND state IN ('ready', 'failed') AND NOT EXISTS (SELECT 1 FROM incidents i"
                f" WHERE i.id = media.incident_id AND i.state IN {_NEVER_EVICTED})",
                (str(media_id),),
            )
            return cursor.rowcount == 1


def _source(row: aiosqlite.Row) -> IncidentSource:
    return IncidentSource(
        incident_id=UUID(row["id"]),
        correlation_id=row["correlation_id"],
        camera_id=row["camera_id"],
        first_seen=datetime.fromisoformat(row["occurred_at"]),
        last_seen=datetime.fromisoformat(row["last_seen_at"]),
    )


async def _row(conn: aiosqlite.Connection, media_id: UUID) -> aiosqlite.Row | None:
    async with conn.execute("SELECT * FROM media WHERE media_id = ?", (str(media_id),)) as cur:
        return await cur.fetchone()


def _remove(path: Path) -> None:
    """Delete a file and its partial form, whichever exists."""
    path.with_name(path.name + ".part").unlink(missing_ok=True)
    path.unlink(missing_ok=True)
