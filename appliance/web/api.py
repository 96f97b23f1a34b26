"""Local JSON API: health, status, events, enrolment."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appliance import keys
from appliance.auth.models import Role
from appliance.errors import CentralError, EnrolmentError
from appliance.store.events import StoredEvent
from appliance.web.auth import require_role
from contracts import ContractError, EventType, FarmEvent, decode
from contracts.registry import contract_error

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EnrolBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    server_url: str = Field(pattern=r"^https?://", description="Central's base URL.")
    code: str = Field(min_length=8, max_length=64)


class RecordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    correlation_id: str = Field(min_length=1, max_length=200)
    event: FarmEvent


def error_response(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return web.json_response(body, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate validation errors into 4xx replies with a message."""
    try:
        return await handler(request)
    except ContractError as err:
        return error_response(400, err.reason, err.field)
    except ValidationError as err:
        ce = contract_error(err)
        return error_response(400, ce.reason, ce.field)


def require_token(request: web.Request) -> None:
    """Technician only; kept for older callers, use `require_role` from appliance.web.auth."""
    require_role(request, Role.TECHNICIAN)


def event_json(event: StoredEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "id": str(event.id),
        "type": event.type.value,
        "correlation_id": event.correlation_id,
        "occurred_at": event.occurred_at.isoformat(),
        "payload": event.payload,
    }


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ContractError(f"must be an integer from {low} to {high}", field=name)
    return int(raw)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/api/v1/status")
async def status(request: web.Request) -> web.Response:
    app = request.app
    identity = await app[keys.IDENTITIES].load()
    sync = app[keys.SYNC].status
    ingest = app.get(keys.INGEST)
    uploader = app.get(keys.MEDIA_UPLOADER)
    return web.json_response(
        {
            "name": app[keys.SETTINGS].name,
            "enrolled": identity is not None,
            "farm_id": identity.farm_id if identity else None,
            "appliance_id": identity.appliance_id if identity else None,
            "central": identity.server_url if identity else None,
            "outbox": await app[keys.EVENTS].counts(),
            "sync": {
                "synced_this_run": sync.synced,
                "last_success_at": sync.last_success_at.isoformat()
                if sync.last_success_at
                else None,
                "last_error": sync.last_error,
            },
            "media": await uploader.report() if uploader else None,
            "telemetry": {
                "accepted": ingest.accepted if ingest else 0,
                "rejected": dict(ingest.rejected) if ingest else {},
            },
        }
    )


@routes.get("/api/v1/events")
async def list_events(request: web.Request) -> web.Response:
    after = int_query(request, "after_seq", 0, 0, 2**62)
    limit = int_query(request, "limit", 100, 1, 1000)
    events = await request.app[keys.EVENTS].list_events(after_seq=after, limit=limit)
    return web.json_response({"items": [event_json(e) for e in events]})


@routes.get("/api/v1/sync/parked")
async def list_parked(request: web.Request) -> web.Response:
    """Events central keeps refusing, set aside with the reason so they block nothing."""
    parked = await request.app[keys.EVENTS].parked()
    return web.json_response(
        {"items": [{**event_json(event), "reason": reason} for event, reason in parked]}
    )


@routes.post("/api/v1/events")
async def record_event(request: web.Request) -> web.Response:
    """Record a farm event by hand (technicians, integrations); answers once it is committed."""
    require_role(request, Role.TECHNICIAN)
    body = decode_body(RecordBody, await request.read())
    event = await request.app[keys.EVENTS].record(
        EventType.FARM_EVENT, body.event, correlation_id=body.correlation_id
    )
    return web.json_response(event_json(event), status=201)


@routes.post("/api/v1/enrolment")
async def enrol(request: web.Request) -> web.Response:
    """Enrol this appliance at central with a one-time code."""
    require_role(request, Role.TECHNICIAN)
    body = decode_body(EnrolBody, await request.read())
    app = request.app
    try:
        identity = await app[keys.CENTRAL].enrol(
            body.server_url, body.code, app[keys.SETTINGS].name
        )
    except EnrolmentError as err:
        return error_response(400, f"central refused the enrolment: {err}", "code")
    except CentralError as err:
        return error_response(502, str(err))
    await app[keys.IDENTITIES].save(identity)
    app[keys.SYNC].status.identity_changed.set()
    log.info("enrolled at %s as %s", identity.server_url, identity.appliance_id)
    return web.json_response(
        {"appliance_id": identity.appliance_id, "farm_id": identity.farm_id}, status=201
    )


def decode_body(model: type[M], raw: bytes) -> M:
    if not raw:
        raise ContractError("request body is empty", field="body")
    return decode(model, raw)
