"""Simulated climate sensors publishing telemetry over real MQTT (until firmware lands)."""

from __future__ import annotations

import asyncio
import math
import random
import time

from amqtt.client import MQTTClient
from amqtt.mqtt.constants import QOS_1

from contracts import TelemetrySample
from contracts.mqtt import DeviceTopicKind, device_topic


async def run_simulated_sensors(
    broker_url: str, *, root: str, count: int, interval_s: float
) -> None:
    """Publish temperature/humidity from `count` sensors that follow a daily curve."""
    client = MQTTClient(client_id="byre-demo-sensors")
    await client.connect(broker_url)
    try:
        while True:
            hour = (time.time() / 3600) % 24
            for n in range(count):
                temp = 18 + 8 * math.sin((hour - 9) / 24 * 2 * math.pi) + random.gauss(0, 0.3)
                sample = TelemetrySample(
                    source_id=f"climate-{n + 1}",
                    values={"temperature_c": round(temp, 2), "humidity_pct": round(60 - temp, 2)},
                )
                topic = device_topic(sample.source_id, DeviceTopicKind.TELEMETRY, root=root)
                await client.publish(topic, sample.model_dump_json().encode(), qos=QOS_1)
            await asyncio.sleep(interval_s)
    finally:
        await client.disconnect()
