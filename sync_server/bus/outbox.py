"""Central's bus outbox: rows written with the events, read and marked by the relay.

Ingest calls `add_to_outbox` inside the transaction that inserts the events, so an event is
stored with its outbox row or not at all. Only this module touches the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import EventEnvelope
from contracts.topics import bus_topic
from sync_server.bus.message import BusMessage
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
        await session.exec(insert(_table()), params=rows)
    return len(rows)


async def next_unpublished(
    session: AsyncSession, limit: int, *, lock: bool, after: int | None = None
) -> list[tuple[int, BusMessage]]:
    """The oldest unpublished rows (after `pk` `after`) as (pk, message); with `lock`
    (PostgreSQL) they stay locked for this transaction and other replicas' relays skip them
    (`FOR UPDATE SKIP LOCKED`)."""
    t = _table()
    query = (
        core_select(
            t.c.pk,
            t.c.event_id,
            t.c.event_type,
            t.c.farm_id,
            t.c.schema_version,
            t.c.topic,
            t.c.body,
        )
        .where(t.c.published_at.is_(None))
        .order_by(t.c.pk)
        .limit(limit)
    )
    if after is not None:
        query = query.where(t.c.pk > after)
    if lock:
        query = query.with_for_update(skip_locked=True)
    connection = await session.connection()  # Core rows, no ORM objects
    rows = (await connection.execute(query)).all()
    return [
        (
            pk,
            BusMessage(
                event_id=event_id,
                event_type=event_type,
                farm_id=farm_id,
                schema_version=schema_version,
                topic=topic,
                body=body.encode(),
            ),
        )
        for pk, event_id, event_type, farm_id, schema_version, topic, body in rows
    ]


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


def _table() -> Table:
    return BusOutboxRecord.metadata.tables["bus_outbox"]


async def count_unpublished(session: AsyncSession) -> int:
    query = select(func.count()).where(col(BusOutboxRecord.published_at).is_(None))
    return (await session.exec(query)).one()
