"""HQ's read side: events across the fleet, filtered and paged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from contracts import EventEnvelope, EventType
from contracts.ids import IDENTIFIER_PATTERN
from sync_server.api.deps import Admin, Session
from sync_server.models import EventRecord, as_utc

router = APIRouter(prefix="/api/v1", tags=["events"], dependencies=[Admin])


class EventPage(BaseModel):
    items: list[EventEnvelope]
    next_cursor: int | None
    total: int | None = None


@router.get("/events", response_model=EventPage)
async def list_events(
    session: Session,
    farm_id: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)] = None,
    type: Annotated[EventType | None, Query()] = None,
    after: Annotated[int, Query(ge=0, description="Cursor from the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventPage:
    query = select(EventRecord).where(col(EventRecord.pk) > after)
    if farm_id is not None:
        query = query.where(EventRecord.farm_id == farm_id)
    if type is not None:
        query = query.where(EventRecord.type == type.value)
    rows = (await session.exec(query.order_by(col(EventRecord.pk)).limit(limit))).all()
    items = [_envelope(r) for r in rows]
    return EventPage(items=items, next_cursor=rows[-1].pk if len(rows) == limit else None)


def _envelope(row: EventRecord) -> EventEnvelope:
    data: dict[str, Any] = {
        "id": row.id,
        "type": row.type,
        "schema_version": row.schema_version,
        "farm_id": row.farm_id,
        "appliance_id": row.appliance_id,
        "correlation_id": row.correlation_id,
        "seq": row.seq,
        "occurred_at": as_utc(row.occurred_at),
        "payload": row.payload,
    }
    return EventEnvelope.model_validate(data)
