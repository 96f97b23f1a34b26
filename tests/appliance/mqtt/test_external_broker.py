"""The appliance on an external broker (the machine's Mosquitto) with the same topic contract."""

from __future__ import annotations

import asyncio
import json
import uuid

from appliance import keys
from appliance.mqtt.settings import MqttSettings
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.mqtt.conftest import MOSQUITTO_PORT
from tests.appliance.mqtt.peers import Peer
from tests.conftest import MakeAppliance, eventually


async def test_appliance_ingests_telemetry_through_an_external_broker(
    make_appliance: MakeAppliance,
) -> None:
    root = f"t{uuid.uuid4().hex[:10]}"
    appliance = await make_appliance(
        mqtt=MqttSettings(
            embedded=False, broker_url=f"mqtt://127.0.0.1:{MOSQUITTO_PORT}", root=root
        )
    )
    await asyncio.wait_for(appliance.app[keys.MQTT].ready.wait(), 10)
    device = Peer(MOSQUITTO_PORT, f"{root}-trough-1")
    assert await device.connect()
    sample = {"source_id": "trough-1", "values": {"level_pct": 63.0}}

    try:
        await device.publish(
            device_topic("trough-1", DeviceTopicKind.TELEMETRY, root=root),
            json.dumps(sample).encode(),
        )

        async def recorded() -> bool:
            return appliance.app[keys.INGEST].accepted == 1

        await eventually(recorded)
    finally:
        await device.close()

    events = await appliance.app[keys.EVENTS].list_events()
    assert [e.payload["values"] for e in events] == [{"level_pct": 63.0}]
    assert keys.BROKER not in appliance.app
