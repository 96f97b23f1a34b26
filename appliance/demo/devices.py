"""Simulated climate sensors publishing telemetry over real MQTT with their own credentials."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time

import aiomqtt

from appliance.devices.errors import DeviceExistsError
from appliance.devices.registry import DeviceRegistry
from contracts import TelemetrySample
from contracts.devices import DeviceType
from contracts.mqtt import DeviceTopicKind, device_topic


async def _credentials(registry: DeviceRegistry, device_id: str) -> str:
    """Provision the sensor, or give it a new secret if an earlier demo run provisioned it."""
    try:
        return (await registry.provision(device_id, DeviceType.CLIMATE, "demo sensor")).secret
    except DeviceExistsError:
        return (await registry.rotate_secret(device_id)).secret


async def run_simulated_sensors(
    registry: DeviceRegistry,
    address: tuple[str, int],
    *,
    root: str,
    count: int,
    interval_s: float,
) -> None:
    """Publish temperature/humidity from `count` sensors that follow a daily curve."""
    device_ids = [f"climate-{n + 1}" for n in range(count)]
    secrets = [await _credentials(registry, device_id) for device_id in device_ids]
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                aiomqtt.Client(address[0], address[1], identifier=d, username=d, password=s)
            )
            for d, s in zip(device_ids, secrets, strict=True)
        ]
        while True:
            hour = (time.time() / 3600) % 24
            for device_id, client in zip(device_ids, clients, strict=True):
                temp = 18 + 8 * math.sin((hour - 9) / 24 * 2 * math.pi) + random.gauss(0, 0.3)
                sample = TelemetrySample(
                    source_id=device_id,
                    values={"temperature_c": round(temp, 2), "humidity_pct": round(60 - temp, 2)},
                )
                topic = device_topic(device_id, DeviceTopicKind.TELEMETRY, root=root)
                await client.publish(topic, sample.model_dump_json().encode(), qos=1)
            await asyncio.sleep(interval_s)
