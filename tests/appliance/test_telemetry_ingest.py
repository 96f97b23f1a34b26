"""Device telemetry over the embedded broker, published by a real paho-mqtt client."""

from __future__ import annotations

import asyncio
import json

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from appliance import keys
from contracts.devices import DeviceType
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.conftest import MakeAppliance, eventually


def publish(port: int, secret: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish as device trough-1 with QoS 1 and wait for every PUBACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="trough-1")
    client.username_pw_set("trough-1", secret)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()


async def test_valid_telemetry_is_recorded_and_bad_payloads_are_counted(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance()
    ingest = appliance.app[keys.INGEST]
    await asyncio.wait_for(ingest.connected.wait(), 10)
    topic = device_topic("trough-1", DeviceTopicKind.TELEMETRY)
    good = json.dumps({"source_id": "trough-1", "values": {"level_pct": 41.5}}).encode()
    messages = [
        (topic, good),
        (topic, b"not json"),
        (topic, json.dumps({"source_id": "trough-1", "values": {}}).encode()),
        (topic, json.dumps({"source_id": "trough-2", "values": {"level_pct": 1}}).encode()),
    ]

    device = await appliance.app[keys.DEVICES].provision("trough-1", DeviceType.WATER_TROUGH)
    await asyncio.to_thread(publish, appliance.settings.mqtt.port, device.secret, messages)

    async def all_handled() -> bool:
        return ingest.accepted + sum(ingest.rejected.values()) == 4

    await eventually(all_handled)

    events = await appliance.app[keys.EVENTS].list_events()
    assert [e.payload["values"] for e in events] == [{"level_pct": 41.5}]
    assert events[0].type.value == "telemetry.device"
    assert events[0].payload["at"] is not None
    assert dict(ingest.rejected) == {"(message)": 1, "values": 1, "source_id": 1}
