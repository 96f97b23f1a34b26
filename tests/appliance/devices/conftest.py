"""A running appliance (embedded broker, real SQLite) and paho-mqtt devices provisioned on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from appliance import keys
from appliance.devices.settings import DeviceSettings
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.mqtt.peers import Peer
from tests.conftest import API_TOKEN, MakeAppliance, RunningAppliance

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
FAST_COMMANDS = DeviceSettings(command_ack_timeout_s=0.4, command_attempts=2, command_ttl_s=30)


@dataclass
class Farm:
    """An appliance, an API client for it, and the devices a test provisioned."""

    appliance: RunningAppliance
    api: httpx.AsyncClient
    peers: list[Peer]

    @property
    def port(self) -> int:
        return self.appliance.settings.mqtt.port

    async def provision(self, device_id: str, device_type: str = "climate") -> str:
        reply = await self.api.post(
            "/api/v1/devices",
            json={"device_id": device_id, "device_type": device_type},
            headers=AUTH,
        )
        assert reply.status_code == 201, reply.text
        secret: str = reply.json()["mqtt"]["password"]
        return secret

    def device(self, device_id: str, secret: str, **options: Any) -> Peer:
        availability = device_topic(device_id, DeviceTopicKind.AVAILABILITY)
        options.setdefault("will", (availability, b"offline", 1, True))
        peer = Peer(self.port, device_id, username=device_id, password=secret, **options)
        self.peers.append(peer)
        return peer

    async def online_device(
        self, device_id: str, device_type: str = "climate", **options: Any
    ) -> Peer:
        """Provision, connect, announce `online` and listen for commands, like firmware does."""
        peer = self.device(device_id, await self.provision(device_id, device_type), **options)
        assert await peer.connect()
        assert await peer.subscribe(device_topic(device_id, DeviceTopicKind.COMMAND)) == 1
        await peer.publish(
            device_topic(device_id, DeviceTopicKind.AVAILABILITY), b"online", retain=True
        )
        return peer

    async def command(self, device_id: str, **body: Any) -> httpx.Response:
        return await self.api.post(f"/api/v1/devices/{device_id}/commands", json=body, headers=AUTH)

    async def event_types(self) -> list[str]:
        """Types of the recorded `commands.*` events, in order."""
        events = await self.appliance.app[keys.EVENTS].list_events(limit=1000)
        return [e.type.value for e in events if e.type.value.startswith("commands.")]


MakeFarm = Callable[..., Awaitable[Farm]]


@pytest.fixture
async def make_farm(make_appliance: MakeAppliance) -> AsyncIterator[MakeFarm]:
    farms: list[Farm] = []

    async def make(**overrides: Any) -> Farm:
        overrides.setdefault("devices", FAST_COMMANDS)
        appliance = await make_appliance(**overrides)
        await asyncio.wait_for(appliance.app[keys.MQTT].ready.wait(), 10)
        farm = Farm(appliance, httpx.AsyncClient(base_url=appliance.url), [])
        farms.append(farm)
        return farm

    yield make
    for farm in farms:
        for peer in farm.peers:
            await peer.close()
        await farm.api.aclose()


@pytest.fixture
async def farm(make_farm: MakeFarm) -> Farm:
    return await make_farm()
