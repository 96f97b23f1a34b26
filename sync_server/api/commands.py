"""HQ's device commands for a farm: issued here or over the bus, listed with their progress.

A command is stored once per farm and correlation id, whatever route it came by; the farm's
appliance picks it up with its desired state and reports how far it got.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from contracts import DeviceCommand, new_id
from contracts.commands import ActionName
from contracts.ids import IDENTIFIER_PATTERN, CorrelationId, Identifier
from sync_server.api.deps import Admin, Session
from sync_server.api.desired import changes
from sync_server.models import CommandRecord, CommandState, as_utc

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["commands"], dependencies=[Admin])

SOURCE_API = "api"
FarmId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]


class StoredCommand(BaseModel):
    farm_id: str
    state: CommandState
    source: str = Field(description="Where the request came from: `api` or `bus`.")
    received_at: datetime
    updated_at: datetime | None = Field(description="When the farm last reported on it.")
    detail: str | None = Field(description="The farm's answer, e.g. why it failed.")
    reported_by: str | None = Field(description="The appliance that last reported on it.")
    command: DeviceCommand


class CommandPage(BaseModel):
    items: list[StoredCommand]
    next_cursor: int | None


class IssueCommand(BaseModel):
    """A command for one device on the farm, issued by an admin."""

    model_config = ConfigDict(extra="forbid")

    device_id: Identifier
    action: ActionName
    params: dict[str, JsonValue] = Field(default_factory=dict)
    correlation_id: CorrelationId | None = Field(
        default=None, description="Idempotency key; sending it again returns the same command."
    )
    ttl_s: int = Field(default=300, ge=10, le=7 * 86_400, description="Expires after this.")
    requested_by: str = Field(default="hq:admin", min_length=1, max_length=100)


@router.post(
    "/farms/{farm_id}/commands",
    status_code=status.HTTP_201_CREATED,
    response_model=StoredCommand,
    responses={
        200: {"description": "The same correlation id was issued before: that command."},
        409: {"description": "The correlation id belongs to a different command."},
    },
)
async def issue_command(
    request: Request, response: Response, session: Session, farm_id: FarmId, body: IssueCommand
) -> StoredCommand:
    """Store the command for the farm's appliance to pick up (201), once per correlation id."""
    now = datetime.now(UTC)
    correlation_id = body.correlation_id or (
        f"cmd:{body.device_id}:{body.action}:{uuid.uuid4().hex[:12]}"
    )
    command = DeviceCommand(
        command_id=new_id(),
        correlation_id=correlation_id,
        device_id=body.device_id,
        action=body.action,
        params=body.params,
        requested_at=now,
        expires_at=now + timedelta(seconds=body.ttl_s),
        requested_by=body.requested_by,
    )
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(CommandRecord)
        .values(
            farm_id=farm_id,
            correlation_id=correlation_id,
            command_id=command.command_id,
            device_id=command.device_id,
            state=CommandState.PENDING.value,
            source=SOURCE_API,
            command=command.model_dump(mode="json"),
            received_at=now,
            expires_at=command.expires_at,
        )
        .on_conflict_do_nothing(index_elements=["farm_id", "correlation_id"])
        .returning(col(CommandRecord.pk))
    )
    inserted = (await session.exec(stmt)).scalars().all()
    await session.commit()
    row = (
        await session.exec(
            select(CommandRecord)
            .where(CommandRecord.farm_id == farm_id)
            .where(CommandRecord.correlation_id == correlation_id)
        )
    ).one()
    if inserted:
        log.info("command %s for farm %s issued by %s", correlation_id, farm_id, body.requested_by)
        changes(request).notify()
        return _stored(row)
    stored = DeviceCommand.model_validate(row.command)
    if (stored.device_id, stored.action, stored.params) != (
        body.device_id,
        body.action,
        body.params,
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"correlation id {correlation_id!r} belongs to another command of the farm",
        )
    response.status_code = status.HTTP_200_OK
    return _stored(row)


@router.get("/farms/{farm_id}/commands", response_model=CommandPage)
async def list_commands(
    session: Session,
    farm_id: FarmId,
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
        updated_at=as_utc(row.updated_at) if row.updated_at else None,
        detail=row.detail,
        reported_by=row.reported_by,
        command=DeviceCommand.model_validate(row.command),
    )
