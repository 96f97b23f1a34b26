"""Device telemetry from MQTT into the event store, validated against the contract."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from datetime import UTC, datetime

from amqtt.client import MQTTClient
from amqtt.mqtt.constants import QOS_1

from appliance.store.events import EventStore
from contracts import ContractError, EventType, TelemetrySample, decode
from contracts.mqtt import DeviceTopicKind, parse_device_topic, subscription

log = logging.getLogger(__name__)


class TelemetryIngest:
    """Subscribes to every device's telemetry topic and records `telemetry.device` events.

    A payload that breaks the contract is dropped and counted in `rejected`.
    """

    def __init__(self, events: EventStore, broker_url: str, *, root: str) -> None:
        self.events = events
        self.broker_url = broker_url
        self.root = root
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        delay = 0.2
        while True:
            client = MQTTClient(client_id="byre-appliance-ingest", config={"auto_reconnect": False})
            try:
                await client.connect(self.broker_url)
                topic = subscription(DeviceTopicKind.TELEMETRY, root=self.root)
                await client.subscribe([(topic, QOS_1)])
                self.connected.set()
                delay = 0.2
                while True:
                    message = await client.deliver_message()
                    if message is not None:
                        await self.handle(message.topic, bytes(message.data or b""))
            except asyncio.CancelledError:
                await _quietly_disconnect(client)
                raise
            except Exception as err:  # noqa: BLE001 - amqtt raises assorted errors; retry all
                self.connected.clear()
                log.warning("telemetry ingest lost the broker (%r); retrying", err)
                await _quietly_disconnect(client)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 30.0)

    async def handle(self, topic: str, data: bytes) -> None:
        try:
            device = parse_device_topic(topic, root=self.root)
            sample = decode(TelemetrySample, data)
            if sample.source_id != device.device_id:
                raise ContractError("does not match the topic's device", field="source_id")
        except ContractError as err:
            self.rejected[err.field or "payload"] += 1
            log.debug("rejected telemetry on %s: %s", topic, err)
            return
        at = sample.at or datetime.now(UTC)
        await self.events.record(
            EventType.TELEMETRY_DEVICE,
            sample.model_copy(update={"at": at}),
            correlation_id=f"telemetry:{device.device_id}",
            occurred_at=at,
        )
        self.accepted += 1


async def _quietly_disconnect(client: MQTTClient) -> None:
    try:
        await client.disconnect()
    except Exception:
        log.debug("disconnect after failure also failed", exc_info=True)
