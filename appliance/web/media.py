"""Local API for media: an incident's clips and snapshots, and the files (with ranges)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from aiohttp import web

from appliance import keys
from appliance.incidents.errors import IncidentNotFound
from appliance.media.errors import MediaNotFound, MediaNotReady
from appliance.media.store import MediaRow
from appliance.web.api import error_response
from contracts import ContractError

routes = web.RouteTableDef()


def _uuid(request: web.Request, name: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError as err:
        raise ContractError("is not a UUID", field=name) from err


def media_url(media_id: UUID) -> str:
    return f"/api/v1/media/{media_id}"


def media_json(media: MediaRow) -> dict[str, Any]:
    return {
        "media_id": str(media.media_id),
        "kind": media.kind.value,
        "content_type": media.content_type,
        "state": media.state,
        "started_at": media.started_at.isoformat(),
        "ended_at": media.ended_at.isoformat() if media.ended_at else None,
        "size_bytes": media.size_bytes,
        "error": media.error,
        "url": media_url(media.media_id),
    }


@routes.get("/api/v1/incidents/{incident_id}/media")
async def incident_media(request: web.Request) -> web.Response:
    incident_id = _uuid(request, "incident_id")
    try:
        await request.app[keys.INCIDENTS].get(incident_id)
    except IncidentNotFound as err:
        return error_response(404, str(err))
    items = await request.app[keys.MEDIA].store.for_incident(incident_id)
    return web.json_response({"items": [media_json(m) for m in items]})


@routes.get("/api/v1/media/{media_id}")
async def media_file(request: web.Request) -> web.StreamResponse:
    """The file; `Range` requests get 206 partial content (video players seek with them)."""
    media_id = _uuid(request, "media_id")
    try:
        media = await request.app[keys.MEDIA].store.file(media_id)
    except MediaNotReady as err:
        return error_response(409, str(err))
    except MediaNotFound as err:
        return error_response(404, str(err))
    if not await asyncio.to_thread(media.path.is_file):
        return error_response(404, f"the file of media {media_id} is gone")
    return web.FileResponse(
        media.path,
        headers={
            "Content-Type": media.content_type,
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": f'inline; filename="{media.path.name}"',
        },
    )
