"""MQTT alerts for sirens, lights and home-automation hubs.

Each incident an MQTT route fires for gets a retained state message (QoS 1) on
`{root}/alerts/{incident_id}`; every change the route hears about (updated, escalated,
acknowledged, resolved) replaces it. `{root}/alerts/active` holds, retained, the incidents
that alert now: count, ids and the highest severity. A resolved incident keeps its retained
state (state `resolved`) and drops out of the summary. Publishes wait for the broker's
acknowledgement and are retried with backoff while the link is down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from appliance.alerts.errors import AlertDeliveryError
from appliance.alerts.settings import AlertSettings
from appliance.mqtt.link import LinkDownError
from contracts import Incident, IncidentState, Severity
from contracts.mqtt import active_alerts_topic, alert_topic

log = logging.getLogger(__name__)

Publish = Callable[..., Awaitable[None]]
"""`MqttLink.publish(topic, payload, *, qos, retain)`."""

KEPT = 1000  # resolved incidents remembered (so a late change cannot revive one)
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def summary(active: dict[str, Incident]) -> dict[str, Any]:
    """The `{root}/alerts/active` payload for the incidents alerting now."""
    ranked = sorted(active.values(), key=lambda i: (-_RANK[i.severity], str(i.incident_id)))
    return {
        "count": len(ranked),
        "incident_ids": [str(i.incident_id) for i in ranked],
        "highest_severity": ranked[0].severity.value if ranked else None,
        "updated_at": datetime.now(UTC).isoformat(),
    }


class MqttAlerts:
    """Keeps the retained alert tree in step with the incidents MQTT routes fired for."""

    def __init__(self, publish: Publish, settings: AlertSettings, *, root: str) -> None:
        self.publish = publish
        self.settings = settings
        self.root = root
        self.active: dict[str, Incident] = {}
        self.published = 0
        self._latest: dict[str, Incident] = {}
        self._lock = asyncio.Lock()  # one change at a time keeps the summary in order

    async def deliver(self, event_id: str, event_type: str, incident: Incident) -> bool:
        """Publish the incident's state and the summary; False once retries are used up."""
        key = str(incident.incident_id)
        latest = self._latest.get(key)
        if latest is None or incident.updated_at >= latest.updated_at:
            self._latest[key] = incident
        async with self._lock:
            current = self._latest[key]  # a late, older change publishes the newest state
            if current.state is IncidentState.RESOLVED:
                self.active.pop(key, None)
            else:
                self.active[key] = current
            self._forget_old()
            state = {
                "event_id": event_id,
                "type": event_type,
                "incident": current.model_dump(mode="json"),
            }
            try:
                await self._publish(alert_topic(key, root=self.root), state)
                await self._publish(active_alerts_topic(root=self.root), summary(self.active))
            except AlertDeliveryError as err:
                log.error("MQTT alert for incident %s not delivered: %s", key, err)
                return False
            return True

    def _forget_old(self) -> None:
        if len(self._latest) > KEPT:
            for key in [k for k, i in self._latest.items() if i.state is IncidentState.RESOLVED]:
                del self._latest[key]

    async def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        delay = self.settings.retry_min_s
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                await self.publish(topic, body, qos=1, retain=True)
            except LinkDownError as err:
                if attempt == 1:
                    log.warning("MQTT alert on %s failed (%s); retrying", topic, err)
                if attempt == self.settings.max_attempts:
                    raise AlertDeliveryError(str(err)) from err
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, self.settings.retry_max_s)
            else:
                self.published += 1
                return
