"""The firmware runtime over real MQTT: announce, report, take commands once, reconnect."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from contracts import CommandAck
from contracts.devices import DeviceType
from contracts.mqtt import DeviceTopicKind, device_topic
from firmware.device.runtime import Device
from tests.appliance.mqtt.conftest import RunningBroker
from tests.firmware.conftest import make_device, write_settings


async def step_until(device: Device, done: Callable[[], bool], seconds: float = 10.0) -> None:
    """Drive the device's loop (blocking I/O) on a thread until `done()` holds."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "device did not get there in time"
        await asyncio.to_thread(device.step, time.time())
        await asyncio.sleep(0.02)


def command(device_id: str, action: str, correlation_id: str, **params: object) -> bytes:
    return json.dumps(
        {
            "command_id": str(uuid.uuid4()),
            "correlation_id": correlation_id,
            "device_id": device_id,
            "action": action,
            "params": params,
            "requested_at": "2025-06-01T00:00:00Z",
            "expires_at": "2030-06-01T00:00:00Z",
            "requested_by": "test",
        }
    ).encode()


async def online_device(
    broker: RunningBroker, tmp_path: Path, device_id: str, device_type: DeviceType
) -> Device:
    secret = await broker.provision(device_id, device_type)
    path = write_settings(tmp_path, device_id, device_type.value, port=broker.port, password=secret)
    device = make_device(path, time.time())
    await step_until(device, lambda: device.connected)
    return device


async def test_device_announces_itself_and_reports(broker: RunningBroker, tmp_path: Path) -> None:
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe("byre/dev/#")

    device = await online_device(broker, tmp_path, "trough-1", DeviceType.WATER_TROUGH)
    await step_until(device, lambda: len(appliance.messages) >= 3)

    by_topic = {m.topic: m for m in appliance.messages}
    availability = by_topic[device_topic("trough-1", DeviceTopicKind.AVAILABILITY)]
    telemetry = json.loads(by_topic[device_topic("trough-1", DeviceTopicKind.TELEMETRY)].payload)
    state = json.loads(by_topic[device_topic("trough-1", DeviceTopicKind.STATE)].payload)
    assert availability.payload == b"online"
    assert telemetry["source_id"] == "trough-1"
    assert set(telemetry["values"]) == {"level_pct", "inflow_lpm"}
    assert state == {"valve_open": False, "target_pct": None}
    device.stop()


async def test_repeated_command_is_executed_once_and_answered_twice(
    broker: RunningBroker, tmp_path: Path
) -> None:
    device = await online_device(broker, tmp_path, "fan-1", DeviceType.FAN)
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe(device_topic("fan-1", DeviceTopicKind.COMMAND_ACK))
    cmd_topic = device_topic("fan-1", DeviceTopicKind.COMMAND)

    await appliance.publish(cmd_topic, command("fan-1", "set_speed", "c-1", speed_pct=70))
    await appliance.publish(cmd_topic, command("fan-1", "set_speed", "c-1", speed_pct=70))
    await step_until(device, lambda: len(appliance.messages) >= 2)

    acks = [CommandAck.model_validate_json(m.payload) for m in appliance.messages]
    assert [(a.correlation_id, a.status.value, a.detail) for a in acks] == [
        ("c-1", "done", None),
        ("c-1", "done", "repeated"),
    ]
    assert device.executed == 1
    device.stop()


async def test_recent_commands_survive_a_restart(broker: RunningBroker, tmp_path: Path) -> None:
    device = await online_device(broker, tmp_path, "siren-1", DeviceType.SIREN)
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe(device_topic("siren-1", DeviceTopicKind.COMMAND_ACK))
    cmd_topic = device_topic("siren-1", DeviceTopicKind.COMMAND)
    await appliance.publish(cmd_topic, command("siren-1", "sound", "s-1", duration_s=2))
    await step_until(device, lambda: len(appliance.messages) >= 1)
    device.stop()

    rebooted = make_device(device.settings.path, time.time())
    await step_until(rebooted, lambda: rebooted.connected)
    await appliance.publish(cmd_topic, command("siren-1", "sound", "s-1", duration_s=2))
    await step_until(rebooted, lambda: len(appliance.messages) >= 2)

    assert rebooted.executed == 0
    assert CommandAck.model_validate_json(appliance.messages[1].payload).detail == "repeated"
    rebooted.stop()


async def test_gate_accepts_then_reports_done(broker: RunningBroker, tmp_path: Path) -> None:
    device = await online_device(broker, tmp_path, "gate-1", DeviceType.GATE)
    device.program.travel_s = 0.3  # type: ignore[attr-defined]
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe(device_topic("gate-1", DeviceTopicKind.COMMAND_ACK))

    await appliance.publish(
        device_topic("gate-1", DeviceTopicKind.COMMAND), command("gate-1", "open", "g-1")
    )
    await step_until(device, lambda: len(appliance.messages) >= 2)

    statuses = [CommandAck.model_validate_json(m.payload).status.value for m in appliance.messages]
    assert statuses == ["accepted", "done"]
    device.stop()


async def test_report_interval_command_is_saved_in_the_settings_file(
    broker: RunningBroker, tmp_path: Path
) -> None:
    device = await online_device(broker, tmp_path, "climate-1", DeviceType.CLIMATE)
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe(device_topic("climate-1", DeviceTopicKind.COMMAND_ACK))

    await appliance.publish(
        device_topic("climate-1", DeviceTopicKind.COMMAND),
        command("climate-1", "set_report_interval", "i-1", interval_s=120),
    )
    await step_until(device, lambda: len(appliance.messages) >= 1)

    saved = await asyncio.to_thread(Path(device.settings.path).read_text)
    assert json.loads(saved)["report_interval_s"] == 120
    device.stop()


async def test_refused_login_backs_off_exponentially(broker: RunningBroker, tmp_path: Path) -> None:
    await broker.provision("climate-9", DeviceType.CLIMATE)
    path = write_settings(tmp_path, "climate-9", "climate", port=broker.port, password="wrong")
    device = make_device(path, time.time())
    delays = []
    for _ in range(4):
        now = max(device.next_attempt, time.time())
        await asyncio.to_thread(device.step, now)
        delays.append(device.next_attempt - now)

    assert not device.connected
    assert delays[-1] > delays[0]
    assert broker.counters.auth_failures == {"bad_secret": 4}


async def test_lost_device_is_announced_offline_by_its_will(
    broker: RunningBroker, tmp_path: Path
) -> None:
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe(device_topic("light-1", DeviceTopicKind.AVAILABILITY))
    device = await online_device(broker, tmp_path, "light-1", DeviceType.LIGHT)
    await appliance.received(1)

    assert device.client is not None
    assert device.client.sock is not None
    device.client.sock.close()  # power cut: no DISCONNECT

    assert [m.payload for m in await appliance.received(2)] == [b"online", b"offline"]


async def test_device_reconnects_after_losing_the_broker(
    broker: RunningBroker, tmp_path: Path
) -> None:
    device = await online_device(broker, tmp_path, "power-1", DeviceType.POWER_MONITOR)
    await broker.broker.disconnect_device("power-1")

    await step_until(device, lambda: device.connects == 2)

    assert device.connected
    device.stop()
