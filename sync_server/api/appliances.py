"""Admins' view of enrolled appliances, and revocation."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlmodel import col, select

from contracts.ids import IDENTIFIER_PATTERN
from sync_server.api.deps import Admin, Session
from sync_server.models import ApplianceRecord, as_utc
from sync_server.security import key_fingerprint

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/appliances", tags=["appliances"], dependencies=[Admin])


class ApplianceInfo(BaseModel):
    id: str
    farm_id: str
    name: str
    key_fingerprint: str = Field(description="SHA-256 (hex) of the appliance's public key.")
    enrolled_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None = Field(description="Last accepted signed request.")


class ApplianceList(BaseModel):
    items: list[ApplianceInfo]


@router.get("", response_model=ApplianceList)
async def list_appliances(session: Session) -> ApplianceList:
    rows = (await session.exec(select(ApplianceRecord).order_by(col(ApplianceRecord.id)))).all()
    return ApplianceList(items=[_info(r) for r in rows])


@router.post("/{appliance_id}/revoke", response_model=ApplianceInfo)
async def revoke(
    session: Session, appliance_id: Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]
) -> ApplianceInfo:
    """Refuse every later request of this appliance; revoking twice keeps the first time."""
    appliance = await session.get(ApplianceRecord, appliance_id)
    if appliance is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such appliance")
    if appliance.revoked_at is None:
        appliance.revoked_at = datetime.now(UTC)
        session.add(appliance)
        await session.commit()
        await session.refresh(appliance)
        log.warning("appliance %s (farm %s) revoked", appliance.id, appliance.farm_id)
    return _info(appliance)


def _info(row: ApplianceRecord) -> ApplianceInfo:
    return ApplianceInfo(
        id=row.id,
        farm_id=row.farm_id,
        name=row.name,
        key_fingerprint=key_fingerprint(row.public_key),
        enrolled_at=as_utc(row.enrolled_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        last_seen_at=as_utc(row.last_seen_at) if row.last_seen_at else None,
    )
