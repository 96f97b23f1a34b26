"""Request dependencies: settings, database sessions and the two kinds of caller.

Admins send a bearer token; appliances sign each request with their Ed25519 key.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.sync import (
    APPLIANCE_HEADER,
    MAX_CLOCK_SKEW_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signed_message,
)
from sync_server.models import ApplianceRecord, SeenRequestRecord, as_utc
from sync_server.security import same_secret, signature_is_valid
from sync_server.settings import CentralSettings
from sync_server.state import CentralState

_bearer = HTTPBearer(auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_state(request: Request) -> CentralState:
    state: CentralState = request.app.state.central
    return state


State = Annotated[CentralState, Depends(get_state)]


def get_settings(state: State) -> CentralSettings:
    return state.settings


async def get_session(state: State) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


def require_admin(state: State, credentials: Bearer) -> None:
    if credentials is None:
        raise _unauthorized("an admin bearer token is required")
    if not same_secret(credentials.credentials, state.settings.effective_admin_token()):
        raise _unauthorized("the admin token is not valid")


Admin = Depends(require_admin)


async def require_appliance(request: Request, session: Session) -> ApplianceRecord:
    """The appliance that signed this request, or 401 with the reason.

    Checks, in order: known appliance, valid Ed25519 signature, not revoked, timestamp within
    the allowed clock skew, and not a replay of a request already served.
    """
    appliance_id = request.headers.get(APPLIANCE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not (appliance_id and timestamp and signature):
        raise _refused(
            f"a signed request is required ({APPLIANCE_HEADER}, {TIMESTAMP_HEADER}, "
            f"{SIGNATURE_HEADER})"
        )
    appliance = await session.get(ApplianceRecord, appliance_id)
    if appliance is None:
        raise _refused("unknown appliance")
    message = signed_message(request.method, _target(request), timestamp, await request.body())
    if not signature_is_valid(appliance.public_key, signature, message):
        raise _refused("the request signature is not valid")
    now = datetime.now(UTC)
    if appliance.revoked_at is not None and as_utc(appliance.revoked_at) <= now:
        raise _refused(f"appliance {appliance.id} has been revoked; enrol it again")
    sent_at = _parse_timestamp(timestamp)
    if sent_at is None or abs((now - sent_at).total_seconds()) > MAX_CLOCK_SKEW_S:
        raise _refused(
            f"the request timestamp is more than {MAX_CLOCK_SKEW_S} s off central's clock"
        )
    if not await _first_sighting(session, appliance, message, sent_at, now):
        raise _refused("this request was already served (replay)")
    return appliance


Appliance = Annotated[ApplianceRecord, Depends(require_appliance)]


def _refused(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Signature"}
    )


def _target(request: Request) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def _parse_timestamp(raw: str) -> datetime | None:
    if not raw.isdigit() or len(raw) > 15:
        return None
    try:
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    except (ValueError, OverflowError, OSError):  # beyond the calendar
        return None


async def _first_sighting(
    session: AsyncSession,
    appliance: ApplianceRecord,
    message: bytes,
    sent_at: datetime,
    now: datetime,
) -> bool:
    """Remember this signed message until it could no longer pass the skew check."""
    window = timedelta(seconds=MAX_CLOCK_SKEW_S)
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.exec(delete(SeenRequestRecord).where(col(SeenRequestRecord.expires_at) < now))
    stmt = (
        insert(SeenRequestRecord)
        .values(
            appliance_id=appliance.id,
            message_hash=hashlib.sha256(message).hexdigest(),
            expires_at=sent_at + window,
        )
        .on_conflict_do_nothing()
        .returning(col(SeenRequestRecord.appliance_id))
    )
    first = (await session.exec(stmt)).first() is not None
    if first:
        appliance.last_seen_at = now
        session.add(appliance)
    await session.commit()
    return first
