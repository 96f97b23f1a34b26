"""The sync endpoint appliances push their outbox to."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from contracts import SyncBatchResponse
from sync_server.api.deps import Appliance, Session
from sync_server.bus.bridge import BusBridge
from sync_server.ingest import parse_batch, store_batch

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])


@router.post("/events", response_model=SyncBatchResponse)
async def sync_events(
    request: Request, appliance: Appliance, session: Session
) -> SyncBatchResponse:
    """Store a batch (a `SyncBatchRequest`) idempotently; each event id lands in accepted,
    duplicates or rejected. The body is validated from its JSON in one pass (no generic
    parse first); a malformed batch gets 422 naming the field."""
    try:
        batch = parse_batch(await request.body(), appliance)
    except ValidationError as err:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        ) from err
    if batch.appliance_id != appliance.id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="appliance_id does not match the credential"
        )
    reply = await store_batch(session, batch)
    if reply.accepted:
        bridge: BusBridge | None = getattr(request.app.state, "bus", None)
        if bridge is not None:
            bridge.outbox_changed()
    return reply
