"""The sync endpoint appliances push their outbox to."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from contracts import SyncBatchRequest, SyncBatchResponse
from sync_server.api.deps import Appliance, Session
from sync_server.ingest import store_batch

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])


@router.post("/events", response_model=SyncBatchResponse)
async def sync_events(
    batch: SyncBatchRequest, appliance: Appliance, session: Session
) -> SyncBatchResponse:
    """Store a batch idempotently; each event id lands in accepted, duplicates or rejected."""
    if batch.appliance_id != appliance.id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="appliance_id does not match the credential"
        )
    return await store_batch(session, appliance, batch)
