"""Browser push channel: incident changes as Server-Sent Events.

A client that reconnects with `Last-Event-ID` (browsers do this by themselves) first gets
what it missed from the store, so nothing is lost across a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

from appliance import keys
from appliance.store.events import EventStore, StoredEvent
from contracts import ContractError, EventType

routes = web.RouteTableDef()

PUSHED: list[EventType] = [
    t for t in EventType if t.value.startswith("incident.") and t is not EventType.FARM_EVENT
]


def sse(event: StoredEvent) -> bytes:
    data = json.dumps(
        {"event_id": str(event.id), "type": event.type.value, "incident": event.payload},
        separators=(",", ":"),
    )
    return f"id: {event.seq}\nevent: {event.type.value}\ndata: {data}\n\n".encode()


def _last_seen(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after")
    if raw is None:
        return None
    if not raw.isdigit():
        raise ContractError("must be an event sequence number", field="Last-Event-ID")
    return int(raw)


@routes.get("/api/v1/alerts/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    events = request.app[keys.EVENTS]
    heartbeat = request.app[keys.SETTINGS].alerts.sse_heartbeat_s
    last = _last_seen(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):  # the browser went away: nothing to do
        await _push(response, events, last, heartbeat)
    return response


async def _push(
    response: web.StreamResponse, events: EventStore, last: int | None, heartbeat: float
) -> None:
    async with events.hub.subscribe() as queue:
        sent = last or 0
        if last is not None:
            for missed in await events.list_events(after_seq=last, limit=1000, types=PUSHED):
                await response.write(sse(missed))
                sent = missed.seq
        await response.write(b": connected\n\n")
        while True:
            event: StoredEvent | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(heartbeat):
                    event = await queue.get()
            if event is None:
                await response.write(b": keep-alive\n\n")
            elif event.type in PUSHED and event.seq > sent:
                await response.write(sse(event))
                sent = event.seq
