"""Logins and topic ACLs of the embedded broker, exercised by real paho-mqtt clients."""

from __future__ import annotations

import asyncio

import pytest

from appliance.mqtt.access import APPLIANCE_USERNAME
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.mqtt.conftest import RunningBroker

REFUSED = 128


def topic(device_id: str, kind: DeviceTopicKind) -> str:
    return device_topic(device_id, kind)


async def test_device_with_its_secret_logs_in(broker: RunningBroker) -> None:
    secret = await broker.provision("climate-1")
    device = broker.device("climate-1", secret)

    assert await device.connect()
    await device.disconnect()


@pytest.mark.parametrize(
    ("username", "password", "client_id", "reason"),
    [
        pytest.param("climate-1", "wrong-secret", "climate-1", "bad_secret", id="wrong-password"),
        pytest.param("fan-9", "whatever", "fan-9", "unknown_device", id="unknown-device"),
        pytest.param(None, None, "climate-1", "anonymous", id="anonymous"),
        pytest.param("climate-1", "SECRET", "fan-2", "client_id_mismatch", id="other-client-id"),
        pytest.param("bad/name", "x", "bad/name", "bad_username", id="unsafe-username"),
        pytest.param(APPLIANCE_USERNAME, "guess", "_appliance-x", "bad_secret", id="appliance"),
    ],
)
async def test_bad_login_is_refused_and_counted(
    broker: RunningBroker, username, password, client_id, reason
) -> None:
    secret = await broker.provision("climate-1")
    peer = broker.peer(
        client_id,
        username=username,
        password=secret if password == "SECRET" else password,
    )

    assert not await peer.connect()
    assert broker.counters.auth_failures == {reason: 1}


async def test_revoked_device_is_refused(broker: RunningBroker) -> None:
    secret = await broker.provision("gate-1")
    await broker.registry.revoke("gate-1")

    assert not await broker.device("gate-1", secret).connect()
    assert broker.counters.auth_failures == {"unknown_device": 1}


async def test_rotated_secret_replaces_the_old_one(broker: RunningBroker) -> None:
    old = await broker.provision("gate-1")
    assert await broker.device("gate-1", old).connect()
    new = (await broker.registry.rotate_secret("gate-1")).secret

    assert not await broker.device("gate-1", old).connect()
    assert await broker.device("gate-1", new).connect()


async def test_device_will_on_another_devices_topic_is_refused(broker: RunningBroker) -> None:
    secret = await broker.provision("climate-1")
    will = (topic("climate-2", DeviceTopicKind.AVAILABILITY), b"offline", 1, True)

    assert not await broker.device("climate-1", secret, will=will).connect()
    assert broker.counters.auth_failures == {"will_topic": 1}


@pytest.mark.parametrize(
    "kind",
    [
        DeviceTopicKind.TELEMETRY,
        DeviceTopicKind.STATE,
        DeviceTopicKind.AVAILABILITY,
        DeviceTopicKind.COMMAND_ACK,
    ],
)
async def test_device_publishes_under_its_own_prefix(broker: RunningBroker, kind) -> None:
    secret = await broker.provision("climate-1")
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe("byre/#")
    device = broker.device("climate-1", secret)
    assert await device.connect()

    await device.publish(topic("climate-1", kind), b"{}")

    assert [m.topic for m in await appliance.received(1)] == [topic("climate-1", kind)]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(topic("climate-2", DeviceTopicKind.TELEMETRY), id="other-device"),
        pytest.param(topic("climate-1", DeviceTopicKind.COMMAND), id="own-command-topic"),
        pytest.param("byre/dev/climate-1/firmware", id="unknown-kind"),
        pytest.param("elsewhere/climate-1", id="outside-the-tree"),
    ],
)
async def test_device_publish_outside_its_acl_is_dropped_and_counted(
    broker: RunningBroker, target
) -> None:
    secret = await broker.provision("climate-1")
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe("#")
    device = broker.device("climate-1", secret)
    assert await device.connect()

    await device.publish(target, b"{}")
    await device.publish(topic("climate-1", DeviceTopicKind.TELEMETRY), b"{}")

    assert [m.topic for m in await appliance.received(1)] == [
        topic("climate-1", DeviceTopicKind.TELEMETRY)
    ]
    assert broker.counters.acl_denied == {"publish": 1}


@pytest.mark.parametrize(
    ("subscription", "granted"),
    [
        pytest.param(topic("climate-1", DeviceTopicKind.COMMAND), 1, id="own-command-topic"),
        pytest.param(topic("climate-2", DeviceTopicKind.COMMAND), REFUSED, id="other-device"),
        pytest.param("byre/dev/+/cmd", REFUSED, id="wildcard"),
        pytest.param("#", REFUSED, id="everything"),
        pytest.param(topic("climate-1", DeviceTopicKind.TELEMETRY), REFUSED, id="own-telemetry"),
    ],
)
async def test_device_subscribes_only_to_its_command_topic(
    broker: RunningBroker, subscription, granted
) -> None:
    secret = await broker.provision("climate-1")
    device = broker.device("climate-1", secret)
    assert await device.connect()

    assert await device.subscribe(subscription) == granted
    assert broker.counters.acl_denied == ({} if granted == 1 else {"subscribe": 1})


async def test_appliance_may_publish_and_subscribe_anywhere(broker: RunningBroker) -> None:
    secret = await broker.provision("fan-1")
    device = broker.device("fan-1", secret)
    assert await device.connect()
    assert await device.subscribe(topic("fan-1", DeviceTopicKind.COMMAND)) == 1
    appliance = broker.appliance()
    assert await appliance.connect()

    assert await appliance.subscribe("#") == 1
    await appliance.publish(topic("fan-1", DeviceTopicKind.COMMAND), b'{"on": true}')

    assert [m.payload for m in await device.received(1)] == [b'{"on": true}']


async def test_appliance_client_id_must_carry_the_appliance_prefix(broker: RunningBroker) -> None:
    peer = broker.appliance(client_id="sneaky")

    assert not await peer.connect()
    assert broker.counters.auth_failures == {"client_id_mismatch": 1}


async def test_failed_login_cannot_take_over_a_connected_device(broker: RunningBroker) -> None:
    secret = await broker.provision("gate-1")
    device = broker.device("gate-1", secret)
    assert await device.connect()
    assert await device.subscribe(topic("gate-1", DeviceTopicKind.COMMAND)) == 1

    assert not await broker.device("gate-1", "stolen-guess").connect()
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.publish(topic("gate-1", DeviceTopicKind.COMMAND), b"open")

    assert [m.payload for m in await device.received(1)] == [b"open"]


async def test_many_devices_log_in_concurrently(broker: RunningBroker) -> None:
    secrets = {f"trough-{n}": await broker.provision(f"trough-{n}") for n in range(5)}
    devices = [broker.device(d, s) for d, s in secrets.items()]

    results = await asyncio.gather(*(d.connect() for d in devices))

    assert results == [True] * 5
