"""Central's bus outbox: rows written with the events, read and marked by the relay.

Ingest calls `add_to_outbox` inside the transaction that inserts the events, so an event is
stored with its outbox row or not at all. Only this module touches the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import EventEnvelope
from contracts.topics import bus_topic
from sync_server.models import BusOutboxRecord


async def add_to_outbox(
    session: AsyncSession, envelopes: Iterable[EventEnvelope], now: datetime
) -> int:
    """Queue the envelopes that belong on the bus, in the given order; no commit."""
    rows: list[dict[str, Any]] = []
    for envelope in envelopes:
        topic = bus_topic(envelope.type)
        if topic is None:
            continue
        rows.append(
            {
                "event_id": envelope.id,
                "event_type": envelope.type.value,
                "schema_version": envelope.schema_version,
                "farm_id": envelope.farm_id,
                "topic": topic,
                "body": envelope.model_dump_json(),
                "created_at": now,
            }
        )
    if rows:
        # executemany on the table: compiled once and cached, unlike `.values(rows)`
        table = BusOutboxRecord.metadata.tables["bus_outbox"]
        await session.exec(insert(table), params=rows)
    return len(rows)


async def next_unpublished(
    session: AsyncSession, limit: int, *, lock: bool
) -> Sequence[BusOutboxRecord]:
    """The oldest unpublished rows; with `lock` (PostgreSQL) they stay locked for this
    transaction and other replicas' relays skip them (`FOR UPDATE SKIP LOCKED`)."""
    query = (
        select(BusOutboxRecord)
        .where(col(BusOutboxRecord.published_at).is_(None))
        .order_by(col(BusOutboxRecord.pk))
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return (await session.exec(query)).all()


async def mark_published(session: AsyncSession, pks: Sequence[int], now: datetime) -> None:
    """Set `published_at` on the rows; no commit."""
    await session.exec(
        update(BusOutboxRecord).where(col(BusOutboxRecord.pk).in_(pks)).values(published_at=now)
    )


async def delete_published_before(session: AsyncSession, before: datetime) -> None:
    """Forget rows published before `before`; no commit."""
    await session.exec(
        delete(BusOutboxRecord)
        .where(col(BusOutboxRecord.published_at).is_not(None))
        .where(col(BusOutboxRecord.published_at) < before)
    )


async def count_unpublished(session: AsyncSession) -> int:
    query = select(func.count()).where(col(BusOutboxRecord.published_at).is_(None))
    return (await session.exec(query)).one()
