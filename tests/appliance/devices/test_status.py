"""Availability from retained `online` and the last will, state, and last-seen times."""

from __future__ import annotations

import json

from appliance import keys
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.devices.conftest import AUTH, Farm
from tests.appliance.mqtt.peers import SilentDevice, connect_packet
from tests.conftest import eventually


async def availability(farm: Farm, device_id: str) -> str:
    reply = await farm.api.get(f"/api/v1/devices/{device_id}", headers=AUTH)
    value: str = reply.json()["status"]["availability"]
    return value


async def wait_for_availability(farm: Farm, device_id: str, value: str) -> None:
    async def reached() -> bool:
        return await availability(farm, device_id) == value

    await eventually(reached)


async def test_device_is_online_after_announcing_it(farm: Farm) -> None:
    await farm.online_device("climate-1")

    await wait_for_availability(farm, "climate-1", "online")


async def test_lost_device_goes_offline_through_its_last_will(farm: Farm) -> None:
    device = await farm.online_device("climate-1")
    await wait_for_availability(farm, "climate-1", "online")

    await device.drop()

    await wait_for_availability(farm, "climate-1", "offline")


async def test_silent_device_goes_offline_after_its_keepalive(farm: Farm) -> None:
    secret = await farm.provision("trough-1", "water_trough")
    availability_topic = device_topic("trough-1", DeviceTopicKind.AVAILABILITY)
    silent = SilentDevice(farm.port)
    packet = connect_packet(
        "trough-1",
        username="trough-1",
        password=secret,
        keepalive=1,
        will=(availability_topic, b"offline"),
    )
    try:
        assert await silent.connect(packet) == b"\x20\x02\x00\x00"
        await wait_for_availability(farm, "trough-1", "offline")
    finally:
        silent.close()


async def test_reported_state_is_kept(farm: Farm) -> None:
    device = await farm.online_device("gate-1", "gate")

    await device.publish(
        device_topic("gate-1", DeviceTopicKind.STATE), b'{"open": true}', retain=True
    )

    async def stored() -> bool:
        reply = await farm.api.get("/api/v1/devices/gate-1", headers=AUTH)
        state: object = reply.json()["status"]["state"]
        return state == {"open": True}

    await eventually(stored)


async def test_malformed_state_and_availability_are_counted(farm: Farm) -> None:
    device = await farm.online_device("gate-1", "gate")
    status = farm.appliance.app[keys.DEVICE_STATUS]

    await device.publish(device_topic("gate-1", DeviceTopicKind.STATE), b"[1, 2]")
    await device.publish(device_topic("gate-1", DeviceTopicKind.STATE), b"{not json")
    await device.publish(device_topic("gate-1", DeviceTopicKind.AVAILABILITY), b"asleep")

    async def counted() -> bool:
        return status.rejected == {"state": 2, "availability": 1}

    await eventually(counted)


async def test_telemetry_updates_last_seen(farm: Farm) -> None:
    device = await farm.online_device("climate-1")
    sample = {"source_id": "climate-1", "values": {"temperature_c": 21.5}}

    await device.publish(
        device_topic("climate-1", DeviceTopicKind.TELEMETRY), json.dumps(sample).encode()
    )

    async def ingested() -> bool:
        return farm.appliance.app[keys.INGEST].accepted == 1

    await eventually(ingested)
    status = await farm.appliance.app[keys.DEVICE_STATUS].get("climate-1")
    assert status is not None
    assert (
        status.last_seen_at == (await farm.appliance.app[keys.EVENTS].list_events())[-1].occurred_at
    )


async def test_device_list_shows_every_device_with_its_status(farm: Farm) -> None:
    await farm.online_device("climate-1")
    await farm.provision("gate-1", "gate")
    await wait_for_availability(farm, "climate-1", "online")

    reply = await farm.api.get("/api/v1/devices", headers=AUTH)

    assert [(d["device_id"], d["status"]["availability"]) for d in reply.json()["items"]] == [
        ("climate-1", "online"),
        ("gate-1", "unknown"),
    ]
