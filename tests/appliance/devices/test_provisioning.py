"""Provisioning through the local API: credentials shown once, revocation, device types."""

from __future__ import annotations

import pytest

from appliance import keys
from contracts.devices import DeviceType
from tests.appliance.devices.conftest import AUTH, Farm


async def test_provisioned_device_gets_credentials_that_log_in(farm: Farm) -> None:
    reply = await farm.api.post(
        "/api/v1/devices",
        json={"device_id": "barn-climate-1", "device_type": "climate", "name": "Barn"},
        headers=AUTH,
    )
    mqtt = reply.json()["mqtt"]

    assert reply.status_code == 201
    assert (mqtt["username"], mqtt["client_id"], mqtt["port"]) == (
        "barn-climate-1",
        "barn-climate-1",
        farm.port,
    )
    assert mqtt["command_topic"] == "byre/dev/barn-climate-1/cmd"
    assert await farm.device("barn-climate-1", mqtt["password"]).connect()


async def test_secret_is_stored_only_as_a_hash(farm: Farm) -> None:
    secret = await farm.provision("gate-1", "gate")

    row = await farm.appliance.app[keys.DATABASE].fetch_one(
        "SELECT secret_hash FROM devices WHERE device_id = 'gate-1'"
    )

    assert row is not None
    assert row["secret_hash"].startswith("scrypt$")
    assert secret not in row["secret_hash"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"device_id": "gate-1", "device_type": "gate"}, 409, "device_id"),
        ({"device_id": "gate 2", "device_type": "gate"}, 400, "device_id"),
        ({"device_id": "gate-2", "device_type": "tractor"}, 400, "device_type"),
        ({"device_id": "gate-2", "device_type": "gate", "colour": "red"}, 400, "colour"),
    ],
)
async def test_bad_provisioning_request_is_refused(farm: Farm, body, status, field) -> None:
    await farm.provision("gate-1", "gate")

    reply = await farm.api.post("/api/v1/devices", json=body, headers=AUTH)

    assert (reply.status_code, reply.json()["field"]) == (status, field)


async def test_provisioning_needs_the_technician_token(farm: Farm) -> None:
    reply = await farm.api.post("/api/v1/devices", json={"device_id": "g", "device_type": "gate"})

    assert reply.status_code == 401


async def test_revoked_device_is_disconnected_and_refused(farm: Farm) -> None:
    device = await farm.online_device("gate-1", "gate")

    reply = await farm.api.delete("/api/v1/devices/gate-1", headers=AUTH)

    assert reply.json()["active"] is False
    assert not await farm.device("gate-1", device.password or "").connect()


async def test_rotating_the_secret_replaces_it(farm: Farm) -> None:
    old = await farm.provision("fan-1", "fan")

    reply = await farm.api.post("/api/v1/devices/fan-1/secret", headers=AUTH)
    new = reply.json()["mqtt"]["password"]

    assert not await farm.device("fan-1", old).connect()
    assert await farm.device("fan-1", new).connect()


async def test_device_types_describe_capabilities_telemetry_and_commands(farm: Farm) -> None:
    reply = await farm.api.get("/api/v1/device-types", headers=AUTH)
    types = {t["type"]: t for t in reply.json()["items"]}

    assert set(types) == {t.value for t in DeviceType}
    assert types["fan"]["capabilities"] == ["speed", "switch"]
    assert [f["name"] for f in types["climate"]["telemetry"]] == [
        "temperature_c",
        "humidity_pct",
        "ammonia_ppm",
    ]
    assert types["fan"]["commands"]["set_speed"]["properties"]["speed_pct"]["maximum"] == 100


async def test_unknown_device_is_404(farm: Farm) -> None:
    reply = await farm.api.get("/api/v1/devices/nope", headers=AUTH)

    assert reply.status_code == 404
