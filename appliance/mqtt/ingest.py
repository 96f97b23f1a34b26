"""Device telemetry from MQTT into the event store, validated against the contract."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from appliance.store.events import EventStore
from contracts import ContractError, EventType, TelemetrySample, decode
from contracts.mqtt import DeviceTopic

log = logging.getLogger(__name__)

SampleListener = Callable[[TelemetrySample], Awaitable[None]]
"""Called with every accepted sample (its `at` filled in)."""


class TelemetryIngest:
    """Validates telemetry from the devices' topics and hands it to listeners (rules, rollups).

    A sample becomes a synced `telemetry.device` event at most once per `event_interval_s`
    per device (the first one at once); the full rate lives in the telemetry rollups.
    A payload that breaks the contract is dropped and counted in `rejected` by field.
    `connected` is set while the appliance's MQTT link is subscribed.
    """

    def __init__(
        self, events: EventStore, connected: asyncio.Event, *, event_interval_s: float = 0.0
    ) -> None:
        self.events = events
        self.connected = connected
        self.event_interval_s = event_interval_s
        self.recorded = 0
        self._last_recorded: dict[str, float] = {}
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.listeners: list[SampleListener] = []

    async def handle(self, topic: DeviceTopic, data: bytes, retain: bool = False) -> None:
        try:
            sample = decode(TelemetrySample, data)
            if sample.source_id != topic.device_id:
                raise ContractError("does not match the topic's device", field="source_id")
        except ContractError as err:
            self.rejected[err.field or "payload"] += 1
            log.debug("rejected telemetry on %s: %s", topic, err)
            return
        sample = sample.model_copy(update={"at": sample.at or datetime.now(UTC)})
        now = time.monotonic()
        last = self._last_recorded.get(topic.device_id)
        if last is None or now - last >= self.event_interval_s:
            self._last_recorded[topic.device_id] = now
            await self.events.record(
                EventType.TELEMETRY_DEVICE,
                sample,
                correlation_id=f"telemetry:{topic.device_id}",
                occurred_at=sample.at,
            )
            self.recorded += 1
        self.accepted += 1
        for listener in self.listeners:
            await listener(sample)
