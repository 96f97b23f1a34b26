"""The alert dispatcher: incident changes -> the routes of the escalation chain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp

from appliance.alerts.settings import AlertRoute, AlertSettings
from appliance.alerts.webhook import deliver
from appliance.hub import Hub
from appliance.store.events import StoredEvent
from contracts import EventType, Incident

log = logging.getLogger(__name__)

MqttAlert = Callable[[str, str, Incident], Awaitable[bool]]
"""Publish (event id, event type, incident) on the alert topics; whether it was delivered."""
Clock = Callable[[], datetime]

_FIRING = {EventType.INCIDENT_OPENED, EventType.INCIDENT_ESCALATED}
_FOLLOW_UP = {
    EventType.INCIDENT_UPDATED,
    EventType.INCIDENT_ACKNOWLEDGED,
    EventType.INCIDENT_RESOLVED,
}


def alert_payload(event: StoredEvent) -> dict[str, Any]:
    return {"event_id": str(event.id), "type": event.type.value, "incident": event.payload}


class AlertDispatcher:
    """Fires routes when an incident opens or escalates to their level; routes that fired
    for an incident also hear how it goes on (updated, acknowledged, resolved)."""

    def __init__(
        self,
        hub: Hub,
        settings: AlertSettings,
        session: aiohttp.ClientSession,
        *,
        mqtt: MqttAlert | None = None,
        clock: Clock = datetime.now,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.session = session
        self.mqtt = mqtt
        self.clock = clock
        self.fired: dict[str, set[str]] = {}  # incident id -> route names
        self.delivered = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        try:
            async with self.hub.subscribe() as queue:
                while True:
                    event = await queue.get()
                    if event.type in _FIRING or event.type in _FOLLOW_UP:
                        self.handle(event)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def routes_for(self, event: StoredEvent, incident: Incident) -> list[AlertRoute]:
        key = str(incident.incident_id)
        if event.type in _FOLLOW_UP:
            names = self.fired.get(key, set())
            if event.type == EventType.INCIDENT_RESOLVED:
                self.fired.pop(key, None)
            return [r for r in self.settings.routes if r.name in names]
        level = incident.escalation_level
        fired = self.fired.setdefault(key, set())  # they hear of the escalation too
        chosen = [
            r
            for r in self.settings.routes
            if r.from_escalation_level == level
            and r.wants(incident.kind, incident.severity, self.clock())
        ]
        fired.update(r.name for r in chosen)
        return [r for r in self.settings.routes if r.name in fired]

    def replace_settings(self, settings: AlertSettings) -> None:
        """Use new routes (and retry settings) for the incident changes from now on."""
        self.settings = settings

    def handle(self, event: StoredEvent) -> None:
        incident = Incident.model_validate(event.payload)
        for route in self.routes_for(event, incident):
            self._spawn(self._send(route, event, incident))

    async def _send(self, route: AlertRoute, event: StoredEvent, incident: Incident) -> None:
        if route.channel == "webhook":
            ok = await deliver(
                self.session, route, self.settings, str(event.id), alert_payload(event)
            )
        elif self.mqtt is not None:
            ok = await self.mqtt(str(event.id), event.type.value, incident)
        else:
            log.error("route %s wants MQTT but no MQTT link is running", route.name)
            ok = False
        if ok:
            self.delivered += 1
        else:
            self.failed += 1

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
