"""Local API for incidents: list, get, acknowledge, resolve."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from appliance import keys
from appliance.auth.models import Role
from appliance.incidents.errors import IncidentClosed, IncidentNotFound
from appliance.web.api import decode_body, error_response, int_query
from appliance.web.auth import require_role
from contracts import ContractError, Incident, IncidentState

routes = web.RouteTableDef()


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Who acknowledges; the signed-in user by default.",
    )


class ResolveBody(AckBody):
    note: str | None = Field(default=None, max_length=2000)


def _incident_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["incident_id"])
    except ValueError as err:
        raise ContractError("is not a UUID", field="incident_id") from err


def _json(incident: Incident) -> web.Response:
    return web.json_response(incident.model_dump(mode="json"))


@routes.get("/api/v1/incidents")
async def list_incidents(request: web.Request) -> web.Response:
    raw_states = [s for s in request.query.getall("state", []) if s]
    try:
        states = [IncidentState(s) for s in raw_states]
    except ValueError as err:
        raise ContractError("must be open, acknowledged or resolved", field="state") from err
    limit = int_query(request, "limit", 50, 1, 500)
    before = request.query.get("before")
    if before is not None and not _is_uuid(before):
        raise ContractError("is not an incident id", field="before")
    items = await request.app[keys.INCIDENTS].list_incidents(
        states=states, limit=limit, before=before
    )
    return web.json_response(
        {
            "items": [i.model_dump(mode="json") for i in items],
            "next_before": str(items[-1].incident_id) if len(items) == limit else None,
        }
    )


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


@routes.get("/api/v1/incidents/{incident_id}")
async def get_incident(request: web.Request) -> web.Response:
    try:
        return _json(await request.app[keys.INCIDENTS].get(_incident_id(request)))
    except IncidentNotFound as err:
        return error_response(404, str(err))


@routes.post("/api/v1/incidents/{incident_id}/acknowledge")
async def acknowledge(request: web.Request) -> web.Response:
    who = require_role(request, Role.FARMER)
    body = decode_body(AckBody, await request.read() or b"{}")
    try:
        incident = await request.app[keys.INCIDENTS].acknowledge(
            _incident_id(request), body.by or who.name
        )
    except IncidentNotFound as err:
        return error_response(404, str(err))
    except IncidentClosed as err:
        return error_response(409, str(err))
    return _json(incident)


@routes.post("/api/v1/incidents/{incident_id}/resolve")
async def resolve(request: web.Request) -> web.Response:
    who = require_role(request, Role.FARMER)
    body = decode_body(ResolveBody, await request.read() or b"{}")
    try:
        incident = await request.app[keys.INCIDENTS].resolve(
            _incident_id(request), body.by or who.name, body.note
        )
    except IncidentNotFound as err:
        return error_response(404, str(err))
    return _json(incident)
