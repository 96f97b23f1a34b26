"""Enrolment: admins create one-time codes; appliances trade a code and their public key
for an appliance id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, status
from sqlmodel import col, update

from contracts import EnrolmentCode, EnrolmentCodeRequest, EnrolRequest, EnrolResponse, new_id
from sync_server.api.deps import Admin, Session
from sync_server.models import ApplianceRecord, EnrolmentCodeRecord
from sync_server.security import digest, key_fingerprint, new_enrolment_code, normalise_code

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["enrolment"])


@router.post(
    "/enrolment-codes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Admin],
    response_model=EnrolmentCode,
)
async def create_code(body: EnrolmentCodeRequest, session: Session) -> EnrolmentCode:
    code = new_enrolment_code()
    expires_at = datetime.now(UTC) + timedelta(seconds=body.ttl_seconds)
    session.add(
        EnrolmentCodeRecord(
            code_hash=digest(normalise_code(code)), farm_id=body.farm_id, expires_at=expires_at
        )
    )
    await session.commit()
    return EnrolmentCode(code=code, farm_id=body.farm_id, expires_at=expires_at)


@router.post("/enroll", status_code=status.HTTP_201_CREATED, response_model=EnrolResponse)
async def enroll(body: EnrolRequest, session: Session) -> EnrolResponse:
    """Trade a one-time code for an appliance id; central keeps the appliance's public key.

    A code works once. The appliance signs every later request with the matching private key.
    """
    appliance_id = f"ap-{new_id().hex[-12:]}"
    code_hash = digest(normalise_code(body.code))
    # Claim the code atomically: only one request can set used_by.
    claim = (
        update(EnrolmentCodeRecord)
        .where(col(EnrolmentCodeRecord.code_hash) == code_hash)
        .where(col(EnrolmentCodeRecord.used_by).is_(None))
        .where(col(EnrolmentCodeRecord.expires_at) > datetime.now(UTC))
        .values(used_by=appliance_id)
    )
    result = await session.exec(claim)
    if result.rowcount != 1:
        await session.rollback()
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail="enrolment code is unknown, used or expired"
        )
    record = await session.get(EnrolmentCodeRecord, code_hash)
    assert record is not None
    session.add(
        ApplianceRecord(
            id=appliance_id,
            farm_id=record.farm_id,
            name=body.name,
            public_key=body.public_key,
            enrolled_at=datetime.now(UTC),
        )
    )
    await session.commit()
    log.info("appliance %s (%s) enrolled for farm %s", appliance_id, body.name, record.farm_id)
    return EnrolResponse(
        appliance_id=appliance_id,
        farm_id=record.farm_id,
        key_fingerprint=key_fingerprint(body.public_key),
    )
