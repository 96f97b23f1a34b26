"""HQ's view of the device commands central holds for a farm (from the bus, for now)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from contracts import DeviceCommand
from contracts.ids import IDENTIFIER_PATTERN
from sync_server.api.deps import Admin, Session
from sync_server.models import CommandRecord, CommandState, as_utc

router = APIRouter(prefix="/api/v1", tags=["commands"], dependencies=[Admin])


class StoredCommand(BaseModel):
    farm_id: str
    state: CommandState
    source: str = Field(description="Where the request came from, e.g. `bus`.")
    received_at: datetime
    command: DeviceCommand


class CommandPage(BaseModel):
    items: list[StoredCommand]
    next_cursor: int | None


@router.get("/farms/{farm_id}/commands", response_model=CommandPage)
async def list_commands(
    session: Session,
    farm_id: Annotated[str, Path(pattern=IDENTIFIER_PATTERN)],
    state: Annotated[CommandState | None, Query()] = None,
    after: Annotated[int, Query(ge=0, description="Cursor from the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CommandPage:
    """A farm's commands in the order central received them, optionally in one state."""
    query = select(CommandRecord).where(
        CommandRecord.farm_id == farm_id, col(CommandRecord.pk) > after
    )
    if state is not None:
        query = query.where(CommandRecord.state == state.value)
    rows = (await session.exec(query.order_by(col(CommandRecord.pk)).limit(limit))).all()
    return CommandPage(
        items=[_stored(r) for r in rows],
        next_cursor=rows[-1].pk if len(rows) == limit else None,
    )


def _stored(row: CommandRecord) -> StoredCommand:
    return StoredCommand(
        farm_id=row.farm_id,
        state=CommandState(row.state),
        source=row.source,
        received_at=as_utc(row.received_at),
        command=DeviceCommand.model_validate(row.command),
    )
