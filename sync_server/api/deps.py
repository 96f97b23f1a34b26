"""Request dependencies: settings, database sessions and the two kinds of caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from sync_server.models import ApplianceRecord
from sync_server.security import digest, same_secret
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


async def require_appliance(session: Session, credentials: Bearer) -> ApplianceRecord:
    if credentials is None:
        raise _unauthorized("an appliance bearer token is required")
    query = select(ApplianceRecord).where(
        ApplianceRecord.token_hash == digest(credentials.credentials)
    )
    appliance = (await session.exec(query)).first()
    if appliance is None:
        raise _unauthorized("unknown appliance credential")
    if appliance.revoked_at is not None and appliance.revoked_at <= datetime.now(UTC):
        raise _unauthorized("this appliance's credential has been revoked")
    return appliance


Appliance = Annotated[ApplianceRecord, Depends(require_appliance)]
