"""Commands from central, end to end over real HTTP, MQTT and buses: an admin or HQ's bus
asks, the farm's appliance pulls the command with its desired state, a device with its own
MQTT credentials answers, central records the outcome and HQ sees the acknowledgement on
the bus. A command delivered twice runs once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from appliance import keys
from appliance.devices.settings import DeviceSettings
from appliance.store.kv import KeyValue
from appliance.sync.desired import CONFIG_KEY, STATE_KEY
from contracts import DeviceCommand, EventEnvelope, EventType, new_id
from contracts.bus import CommandRequest
from contracts.devices import DeviceType
from contracts.mqtt import DeviceTopicKind, device_topic
from sync_server.bus.bridge import BusBridge
from sync_server.db import make_engine
from tests.appliance.mqtt.peers import Peer
from tests.conftest import (
    ADMIN_TOKEN,
    API_TOKEN,
    MakeAppliance,
    MakeCentral,
    RunningAppliance,
    RunningCentral,
    eventually,
)
from tests.sync_server.bus.brokers import (
    NATS_PORT,
    RABBITMQ_PORT,
    BrokerCase,
    NatsCase,
    Probe,
    RabbitMQCase,
)
from tests.sync_server.bus.proxy import TcpProxy

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
DEVICES = DeviceSettings(command_ack_timeout_s=5, command_attempts=3, command_ttl_s=60)
FARM = "farm-hq"


async def enrol(appliance: RunningAppliance, central: RunningCentral, farm_id: str) -> None:
    """What `POST /api/v1/enrolment` on the appliance does, called in process."""
    async with httpx.AsyncClient() as client:
        code = await client.post(
            f"{central.url}/api/v1/enrolment-codes", json={"farm_id": farm_id}, headers=ADMIN
        )
    app = appliance.app
    identity = await app[keys.CENTRAL].enrol(central.url, code.json()["code"], "barn-box")
    await app[keys.IDENTITIES].save(identity)
    app[keys.SYNC].status.identity_changed.set()


async def online_gate(appliance: RunningAppliance, device_id: str = "gate-2") -> Peer:
    """A provisioned gate, connected and listening on its command topic like firmware."""
    await asyncio.wait_for(appliance.app[keys.MQTT].ready.wait(), 10)
    provisioned = await appliance.app[keys.DEVICES].provision(device_id, DeviceType.GATE)
    return await connect_gate(appliance, device_id, provisioned.secret)


async def connect_gate(appliance: RunningAppliance, device_id: str, secret: str) -> Peer:
    """Connect with the gate's own MQTT credentials, announce `online`, await commands."""
    await asyncio.wait_for(appliance.app[keys.MQTT].ready.wait(), 10)
    availability = device_topic(device_id, DeviceTopicKind.AVAILABILITY)
    peer = Peer(
        appliance.settings.mqtt.port,
        device_id,
        username=device_id,
        password=secret,
        will=(availability, b"offline", 1, True),
    )
    assert await peer.connect()
    assert await peer.subscribe(device_topic(device_id, DeviceTopicKind.COMMAND)) == 1
    await peer.publish(availability, b"online", retain=True)
    return peer


async def obey(peer: Peer, count: int = 1) -> list[DeviceCommand]:
    """Wait for `count` commands, answer each accepted then done, return them."""
    commands = [DeviceCommand.model_validate_json(m.payload) for m in await peer.received(count)]
    for command in commands[-1:]:
        for status in ("accepted", "done"):
            ack = {
                "command_id": str(command.command_id),
                "correlation_id": command.correlation_id,
                "device_id": command.device_id,
                "status": status,
                "detail": "gate open" if status == "done" else None,
            }
            topic = device_topic(command.device_id, DeviceTopicKind.COMMAND_ACK)
            await peer.publish(topic, json.dumps(ack).encode())
    return commands


async def central_commands(central: RunningCentral, farm_id: str = FARM) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=central.url) as client:
        reply = await client.get(f"/api/v1/farms/{farm_id}/commands", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def wait_for_central_state(central: RunningCentral, state: str) -> dict[str, Any]:
    async def reached() -> bool:
        return [c["state"] for c in await central_commands(central)] == [state]

    await eventually(reached, 20)
    [command] = await central_commands(central)
    return command


def command_events(appliance: RunningAppliance) -> Any:
    async def read() -> list[str]:
        events = await appliance.app[keys.EVENTS].list_events(limit=1000)
        return [e.type.value for e in events if e.type.value.startswith("commands.")]

    return read()


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    peers: list[Peer] = []
    yield peers
    for peer in peers:
        await peer.close()


async def test_command_issued_at_central_runs_once_on_the_device_and_central_sees_it_done(
    make_central: MakeCentral,
    make_appliance: MakeAppliance,
    database_url: str,
    peers: list[Peer],
) -> None:
    central = await make_central(database_url)
    appliance = await make_appliance(devices=DEVICES)
    gate = await online_gate(appliance)
    peers.append(gate)
    await enrol(appliance, central, FARM)

    async with httpx.AsyncClient(base_url=central.url) as client:
        issued = await client.post(
            f"/api/v1/farms/{FARM}/commands",
            json={"device_id": "gate-2", "action": "open", "correlation_id": "hq:gate-2:1"},
            headers=ADMIN,
        )
    [received] = await obey(gate)
    done = await wait_for_central_state(central, "done")

    # It comes again with a newer desired state (as after a lost report): it runs once.
    await _forget_progress(database_url, central, "hq:gate-2:1")
    async with httpx.AsyncClient(base_url=central.url) as client:
        again = await client.post(
            f"/api/v1/farms/{FARM}/commands",
            json={"device_id": "gate-2", "action": "open", "correlation_id": "hq:gate-2:1"},
            headers=ADMIN,
        )
        config = await client.put(
            f"/api/v1/farms/{FARM}/desired", json={"config": {"night_mode": True}}, headers=ADMIN
        )
    redone = await wait_for_central_state(central, "done")
    await eventually(lambda: _applied(appliance, config.json()["version"]))
    saga = await appliance.app[keys.COMMANDS].get("hq:gate-2:1")

    assert issued.status_code == 201, issued.text
    assert again.status_code == 200
    assert (received.correlation_id, received.action) == ("hq:gate-2:1", "open")
    assert (done["detail"], done["reported_by"]) == ("gate open", await _appliance_id(appliance))
    assert redone["state"] == "done"
    assert saga is not None
    assert saga.state.value == "done"
    assert [m.topic for m in gate.messages] == [device_topic("gate-2", DeviceTopicKind.COMMAND)]
    assert await command_events(appliance) == [
        "commands.requested",
        "commands.sent",
        "commands.acknowledged",
        "commands.acknowledged",
    ]
    assert await KeyValue(appliance.app[keys.DATABASE]).get(CONFIG_KEY) == {
        "config_version": 1,
        "config": {"night_mode": True},
    }


async def test_command_the_farm_cannot_run_is_reported_failed_with_the_reason(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'central.db'}")
    appliance = await make_appliance(devices=DEVICES)
    await enrol(appliance, central, FARM)

    async with httpx.AsyncClient(base_url=central.url) as client:
        await client.post(
            f"/api/v1/farms/{FARM}/commands",
            json={"device_id": "fan-9", "action": "turn_on", "correlation_id": "hq:fan-9:1"},
            headers=ADMIN,
        )
    failed = await wait_for_central_state(central, "failed")

    assert "fan-9" in failed["detail"]
    assert await command_events(appliance) == []


async def test_appliance_of_another_farm_never_runs_the_command(
    make_central: MakeCentral,
    make_appliance: MakeAppliance,
    tmp_path: Path,
    peers: list[Peer],
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'central.db'}")
    own = await make_appliance(tmp_path / "own", devices=DEVICES)
    other = await make_appliance(tmp_path / "other", devices=DEVICES)
    own_gate, other_gate = await online_gate(own), await online_gate(other)
    peers.extend([own_gate, other_gate])
    await enrol(own, central, FARM)
    await enrol(other, central, "farm-elsewhere")

    async with httpx.AsyncClient(base_url=central.url) as client:
        await client.post(
            f"/api/v1/farms/{FARM}/commands",
            json={"device_id": "gate-2", "action": "open", "correlation_id": "hq:gate-2:own"},
            headers=ADMIN,
        )
    await obey(own_gate)
    await wait_for_central_state(central, "done")

    assert other_gate.messages == []
    assert await command_events(other) == []


async def test_command_issued_while_the_appliance_is_down_runs_when_it_is_back(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path, peers: list[Peer]
) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'central.db'}")
    first = await make_appliance(tmp_path / "box", devices=DEVICES)
    gate = await first.app[keys.DEVICES].provision("gate-2", DeviceType.GATE)
    await enrol(first, central, FARM)
    await eventually(lambda: _applied(first, 0))
    await first.runner.cleanup()
    async with httpx.AsyncClient(base_url=central.url) as client:
        issued = await client.post(
            f"/api/v1/farms/{FARM}/commands",
            json={"device_id": "gate-2", "action": "open", "correlation_id": "hq:while-down"},
            headers=ADMIN,
        )
    pending = await central_commands(central)

    second = await make_appliance(tmp_path / "box", devices=DEVICES)
    peer = await connect_gate(second, "gate-2", gate.secret)
    peers.append(peer)
    [received] = await obey(peer)
    done = await wait_for_central_state(central, "done")

    assert issued.status_code == 201
    assert [c["state"] for c in pending] == ["pending"]
    assert received.correlation_id == "hq:while-down"
    assert done["reported_by"] == await _appliance_id(second)


async def _forget_progress(database_url: str, central: RunningCentral, cid: str) -> None:
    """Put central's copy of a command back to pending, as if the farm's report was lost."""
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE commands SET state = 'pending' WHERE correlation_id = :cid"),
                {"cid": cid},
            )
    finally:
        await engine.dispose()


async def _applied(appliance: RunningAppliance, version: int) -> bool:
    """The appliance reported having applied `version` (or any, for 0) to central."""
    state = await KeyValue(appliance.app[keys.DATABASE]).get(STATE_KEY)
    reported = state["reported_version"] if state else None
    return reported is not None and (version == 0 or reported == version)


async def _appliance_id(appliance: RunningAppliance) -> str:
    identity = await appliance.app[keys.IDENTITIES].load()
    assert identity is not None
    return identity.appliance_id


def _bridge(central: RunningCentral) -> BusBridge:
    app = central.server.config.app
    assert isinstance(app, FastAPI)
    bridge: BusBridge = app.state.bus
    return bridge


# --- HQ's bus -----------------------------------------------------------------------------


@pytest.fixture(params=["rabbitmq", "nats"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[BrokerCase]:
    """RabbitMQ and NATS as the machine runs them (a test proxy in front, as central sees it)."""
    uid = uuid.uuid4().hex[:10]
    port = RABBITMQ_PORT if request.param == "rabbitmq" else NATS_PORT
    proxy = TcpProxy(port).start()
    case: BrokerCase = (
        RabbitMQCase(uid, proxy) if request.param == "rabbitmq" else NatsCase(uid, proxy)
    )
    try:
        yield case
    finally:
        await case.cleanup()
        proxy.stop()


async def test_hq_command_on_the_bus_is_acknowledged_on_the_bus(
    make_central: MakeCentral,
    make_appliance: MakeAppliance,
    tmp_path: Path,
    bus: BrokerCase,
    peers: list[Peer],
) -> None:
    probe: Probe = await bus.open_probe()
    try:
        central = await make_central(
            f"sqlite+aiosqlite:///{tmp_path / 'central.db'}", bus=bus.settings()
        )
        source = _bridge(central).source
        assert source is not None

        async def consuming() -> bool:
            return source.connected

        await eventually(consuming, 40)
        appliance = await make_appliance(devices=DEVICES)
        gate = await online_gate(appliance)
        peers.append(gate)
        await enrol(appliance, central, FARM)
        now = datetime.now(UTC)
        request = CommandRequest(
            farm_id=FARM,
            command=DeviceCommand(
                command_id=new_id(),
                correlation_id=f"hq:{uuid.uuid4().hex[:8]}",
                device_id="gate-2",
                action="open",
                requested_at=now,
                expires_at=now + timedelta(minutes=5),
                requested_by="hq:dispatch",
            ),
        )

        await probe.publish_request(request.model_dump_json().encode())
        [received] = await obey(gate)

        def acknowledgements() -> list[EventEnvelope]:
            return [
                EventEnvelope.model_validate_json(m.body)
                for m in probe.received
                if m.topic == EventType.COMMAND_ACKNOWLEDGED.value
            ]

        async def done_on_the_bus() -> bool:
            return any(a.payload["status"] == "done" for a in acknowledgements())

        await eventually(done_on_the_bus, 30)
        stored = await wait_for_central_state(central, "done")
    finally:
        await probe.close()

    correlation_id = request.command.correlation_id
    assert received.correlation_id == correlation_id
    assert stored["source"] == "bus"
    unique = {a.id: a for a in acknowledgements()}  # HQ dedupes by event id
    seen = sorted(
        (a.correlation_id, str(a.payload["correlation_id"]), a.farm_id, str(a.payload["status"]))
        for a in unique.values()
    )
    assert seen == [
        (correlation_id, correlation_id, FARM, "accepted"),
        (correlation_id, correlation_id, FARM, "done"),
    ]
