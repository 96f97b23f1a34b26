"""Desired and reported state: appliances long-poll what their farm should run and report
what they applied; admins set a farm's configuration and model assignments.

A farm's desired-state version is `farm_desired.revision` (bumped by every config or model
change) plus the `pk` of its newest command, so a command stored by any route (the admin
API, the bus inbox, another replica) moves the version forward. Waiting polls re-read the
version every `POLL_INTERVAL_S`; a change made through this replica wakes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeviceCommand
from contracts.desired import (
    DESIRED_PATH,
    MAX_COMMANDS,
    MAX_MODELS,
    MAX_WAIT_S,
    REPORTED_PATH,
    CommandReport,
    DesiredState,
    ModelAssignment,
    ModelReport,
    ReportedState,
    ReportedStateResponse,
)
from contracts.ids import IDENTIFIER_PATTERN
from sync_server.api.deps import Admin, Appliance, Session, State
from sync_server.models import (
    ApplianceReportRecord,
    CommandRecord,
    CommandState,
    FarmDesiredRecord,
    as_utc,
)

POLL_INTERVAL_S = 1.0
EXPIRED_DETAIL = "expired at central before any appliance of the farm took it"

router = APIRouter(tags=["desired state"])
admin_router = APIRouter(prefix="/api/v1", tags=["desired state"], dependencies=[Admin])


class DesiredChanges:
    """Wakes this replica's waiting polls when a farm's desired state changed here."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()


def changes(request: Request) -> DesiredChanges:
    signal: DesiredChanges = request.app.state.desired_changes
    return signal


# --- reading the desired state ---------------------------------------------------------------


async def current_version(session: AsyncSession, farm_id: str) -> int:
    newest = (
        select(func.max(CommandRecord.pk)).where(CommandRecord.farm_id == farm_id)
    ).scalar_subquery()
    revision = (
        select(FarmDesiredRecord.revision).where(FarmDesiredRecord.farm_id == farm_id)
    ).scalar_subquery()
    query = select(func.coalesce(newest, 0) + func.coalesce(revision, 0))
    return int((await session.exec(query)).one())


async def expire_pending(session: AsyncSession, farm_id: str, now: datetime) -> None:
    """Pending commands past their expiry never reach the farm: they time out here."""
    await session.exec(
        update(CommandRecord)
        .where(col(CommandRecord.farm_id) == farm_id)
        .where(col(CommandRecord.state) == CommandState.PENDING.value)
        .where(col(CommandRecord.expires_at) <= now)
        .values(state=CommandState.TIMED_OUT.value, detail=EXPIRED_DETAIL, updated_at=now)
    )


async def desired_state(session: AsyncSession, farm_id: str) -> DesiredState:
    """The farm's whole desired state, with the commands no appliance reported yet."""
    await expire_pending(session, farm_id, datetime.now(UTC))
    await session.commit()
    version = await current_version(session, farm_id)
    farm = await session.get(FarmDesiredRecord, farm_id)
    pending = (
        await session.exec(
            select(CommandRecord)
            .where(CommandRecord.farm_id == farm_id)
            .where(CommandRecord.state == CommandState.PENDING.value)
            .order_by(col(CommandRecord.pk))
            .limit(MAX_COMMANDS)
        )
    ).all()
    await session.commit()
    return DesiredState(
        farm_id=farm_id,
        version=version,
        config_version=farm.config_version if farm else 0,
        config=farm.config if farm else {},
        model_assignments=[ModelAssignment.model_validate(m) for m in farm.model_assignments]
        if farm
        else [],
        commands=[DeviceCommand.model_validate(r.command) for r in pending],
    )


@router.get(
    DESIRED_PATH,
    response_model=DesiredState,
    responses={304: {"description": "Nothing changed since `version` within `wait_s`."}},
)
async def poll_desired(
    request: Request,
    appliance: Appliance,
    state: State,
    version: Annotated[
        int | None, Query(ge=0, description="The last version seen; none: answer at once.")
    ] = None,
    wait_s: Annotated[
        float, Query(ge=0, le=MAX_WAIT_S, description="How long to wait for a change.")
    ] = 0,
) -> DesiredState | Response:
    """Answer at once when `version` is absent or differs from the farm's, else wait for a
    change up to `wait_s` and answer 304 if none came."""
    farm_id = appliance.farm_id
    signal = changes(request)
    deadline = time.monotonic() + wait_s
    while True:
        async with state.sessions() as session:
            now_version = await current_version(session, farm_id)
        remaining = deadline - time.monotonic()
        if now_version != version:
            break
        if remaining <= 0 or await request.is_disconnected():
            return Response(status_code=status.HTTP_304_NOT_MODIFIED)
        await signal.wait(min(POLL_INTERVAL_S, remaining))
    async with state.sessions() as session:
        return await desired_state(session, farm_id)


# --- reports from appliances -----------------------------------------------------------------


def _furthest(reports: list[CommandReport]) -> dict[str, CommandReport]:
    """One report per correlation id: the one furthest along."""
    chosen: dict[str, CommandReport] = {}
    for report in reports:
        seen = chosen.get(report.correlation_id)
        if seen is None or _rank(report) > _rank(seen):
            chosen[report.correlation_id] = report
    return chosen


def _rank(report: CommandReport) -> int:
    return CommandState(report.state.value).rank


@router.post(REPORTED_PATH, response_model=ReportedStateResponse)
async def report_state(
    body: ReportedState, appliance: Appliance, session: Session
) -> ReportedStateResponse:
    """Record what the appliance applied; command states only move forward, only for the
    appliance's own farm, so a repeated or stale report changes nothing."""
    if body.appliance_id != appliance.id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="appliance_id does not match the credential"
        )
    now = datetime.now(UTC)
    reports = _furthest(body.commands)
    known: dict[str, str] = {}
    if reports:
        rows = await session.exec(
            select(CommandRecord.correlation_id, CommandRecord.state)
            .where(CommandRecord.farm_id == appliance.farm_id)
            .where(col(CommandRecord.correlation_id).in_(list(reports)))
        )
        known = dict(rows.all())
    updated: list[str] = []
    unchanged: list[str] = []
    unknown: list[str] = []
    for cid, report in reports.items():
        if cid not in known:
            unknown.append(cid)
            continue
        target = CommandState(report.state.value)
        behind = [s.value for s in CommandState if s.rank < target.rank]
        result = await session.exec(
            update(CommandRecord)
            .where(col(CommandRecord.farm_id) == appliance.farm_id)
            .where(col(CommandRecord.correlation_id) == cid)
            .where(col(CommandRecord.state).in_(behind))
            .values(
                state=target.value, detail=report.detail, updated_at=now, reported_by=appliance.id
            )
        )
        (updated if result.rowcount == 1 else unchanged).append(cid)
    await _save_report(session, appliance.id, appliance.farm_id, body, now)
    await session.commit()
    return ReportedStateResponse(updated=updated, unchanged=unchanged, unknown=unknown)


async def _save_report(
    session: AsyncSession, appliance_id: str, farm_id: str, body: ReportedState, now: datetime
) -> None:
    values: dict[str, Any] = {
        "applied_version": body.applied_version,
        "config_version": body.config_version,
        "models": [m.model_dump(mode="json") for m in body.models],
        "reported_at": now,
    }
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(ApplianceReportRecord)
        .values(appliance_id=appliance_id, farm_id=farm_id, **values)
        .on_conflict_do_update(index_elements=["appliance_id"], set_=values)
    )
    await session.exec(stmt)


# --- admin: a farm's configuration and model assignments --------------------------------------


class DesiredUpdate(BaseModel):
    """What an admin wants a farm to run; replaces the previous config and assignments."""

    model_config = ConfigDict(extra="forbid")

    config: dict[str, JsonValue] = Field(default_factory=dict)
    model_assignments: list[ModelAssignment] = Field(default_factory=list, max_length=MAX_MODELS)


class ApplianceReport(BaseModel):
    appliance_id: str
    applied_version: int
    config_version: int
    models: list[ModelReport]
    reported_at: datetime


class FarmDesired(BaseModel):
    farm_id: str
    version: int
    config_version: int
    config: dict[str, JsonValue]
    model_assignments: list[ModelAssignment]
    reports: list[ApplianceReport] = Field(description="What each appliance last reported.")


FarmId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]


@admin_router.put("/farms/{farm_id}/desired", response_model=FarmDesired)
async def set_desired(
    request: Request, session: Session, farm_id: FarmId, body: DesiredUpdate
) -> FarmDesired:
    """Set the farm's config and model assignments; versions move only on a real change."""
    config = body.config
    models = [m.model_dump(mode="json") for m in body.model_assignments]
    while True:
        farm = await session.get(FarmDesiredRecord, farm_id)
        if farm is None:
            session.add(
                FarmDesiredRecord(
                    farm_id=farm_id,
                    revision=1,
                    config_version=1 if config else 0,
                    config=config,
                    model_assignments=models,
                    updated_at=datetime.now(UTC),
                )
            )
            if await _committed(session):
                break
            continue
        if farm.config == config and farm.model_assignments == models:
            break
        # Optimistic: only the writer that saw this revision moves it forward.
        result = await session.exec(
            update(FarmDesiredRecord)
            .where(col(FarmDesiredRecord.farm_id) == farm_id)
            .where(col(FarmDesiredRecord.revision) == farm.revision)
            .values(
                revision=farm.revision + 1,
                config_version=farm.config_version + int(farm.config != config),
                config=config,
                model_assignments=models,
                updated_at=datetime.now(UTC),
            )
        )
        await session.commit()
        session.expire_all()
        if result.rowcount == 1:
            break
    changes(request).notify()
    return await _farm_desired(session, farm_id)


async def _committed(session: AsyncSession) -> bool:
    """Commit a new row; False when another writer created it first."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


@admin_router.get("/farms/{farm_id}/desired", response_model=FarmDesired)
async def get_desired(session: Session, farm_id: FarmId) -> FarmDesired:
    return await _farm_desired(session, farm_id)


async def _farm_desired(session: AsyncSession, farm_id: str) -> FarmDesired:
    session.expire_all()
    desired = await desired_state(session, farm_id)
    reports = (
        await session.exec(
            select(ApplianceReportRecord)
            .where(ApplianceReportRecord.farm_id == farm_id)
            .order_by(col(ApplianceReportRecord.appliance_id))
        )
    ).all()
    return FarmDesired(
        farm_id=farm_id,
        version=desired.version,
        config_version=desired.config_version,
        config=desired.config,
        model_assignments=desired.model_assignments,
        reports=[
            ApplianceReport(
                appliance_id=r.appliance_id,
                applied_version=r.applied_version,
                config_version=r.config_version,
                models=[ModelReport.model_validate(m) for m in r.models],
                reported_at=as_utc(r.reported_at),
            )
            for r in reports
        ],
    )
