"""Telemetry kept downsampled, synced at a bounded rate, and the appliance's own telemetry."""

from __future__ import annotations

import json

from appliance import keys
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.devices.conftest import AUTH, FAST_COMMANDS, Farm, MakeFarm
from tests.conftest import eventually


async def test_samples_are_rolled_up_and_synced_at_most_once_per_interval(farm: Farm) -> None:
    trough = await farm.online_device("trough-1", "water_trough")
    topic = device_topic("trough-1", DeviceTopicKind.TELEMETRY)
    for level in (50.0, 49.0, 47.0, 46.0):
        sample = {"source_id": "trough-1", "values": {"level_pct": level}}
        await trough.publish(topic, json.dumps(sample).encode())
    ingest = farm.appliance.app[keys.INGEST]

    async def ingested() -> bool:
        return ingest.accepted == 4

    await eventually(ingested)
    reply = await farm.api.get(
        "/api/v1/devices/trough-1/telemetry",
        params={"name": "level_pct", "bucket_s": "60"},
        headers=AUTH,
    )
    points = reply.json()["items"]

    assert ingest.recorded == 1
    assert sum(p["count"] for p in points) == 4
    assert min(p["min"] for p in points) == 46.0
    assert max(p["max"] for p in points) == 50.0


async def test_bad_telemetry_query_is_refused(farm: Farm) -> None:
    await farm.provision("trough-1", "water_trough")

    reply = await farm.api.get(
        "/api/v1/devices/trough-1/telemetry", params={"bucket_s": "7"}, headers=AUTH
    )

    assert reply.status_code == 400


async def test_appliance_records_its_own_telemetry(make_farm: MakeFarm) -> None:
    settings = FAST_COMMANDS.model_copy(update={"system_telemetry_interval_s": 0.2})
    farm = await make_farm(devices=settings)

    async def recorded() -> bool:
        events = await farm.appliance.app[keys.EVENTS].list_events(limit=100)
        return any(e.type.value == "telemetry.system" for e in events)

    await eventually(recorded)
    events = await farm.appliance.app[keys.EVENTS].list_events(limit=100)
    system = next(e for e in events if e.type.value == "telemetry.system")
    assert system.payload["source_id"] == "test-appliance"
    assert {"cpu_pct", "memory_pct", "outbox_pending"} <= set(system.payload["values"])
