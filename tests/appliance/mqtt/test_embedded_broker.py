"""The embedded broker under bad input, with bounded queues, and on its TLS and WebSocket
listeners; devices are real paho-mqtt clients logging in with provisioned secrets."""

from __future__ import annotations

import asyncio
import socket

from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.mqtt.conftest import Certificates, MakeBroker, RunningBroker
from tests.appliance.mqtt.peers import connect_packet, publish_header
from tests.conftest import eventually, free_port

COMMAND = DeviceTopicKind.COMMAND
AVAILABILITY = DeviceTopicKind.AVAILABILITY


async def _raw_exchange(port: int, data: bytes) -> bytes:
    """Send bytes on a fresh connection; return what the broker sends before it closes."""

    def run() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(data)
            received = b""
            while chunk := sock.recv(1024):
                received += chunk
            return received

    return await asyncio.to_thread(run)


async def test_command_sent_while_a_device_is_offline_reaches_it_on_reconnect(
    broker: RunningBroker,
) -> None:
    secret = await broker.provision("gate-1")
    device = broker.device("gate-1", secret, clean_session=False)
    assert await device.connect()
    assert await device.subscribe(device_topic("gate-1", COMMAND)) == 1
    await device.drop()
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.publish(device_topic("gate-1", COMMAND), b'{"action": "open"}')

    back = broker.device("gate-1", secret, clean_session=False)
    assert await back.connect()

    assert [m.payload for m in await back.received(1)] == [b'{"action": "open"}']


async def test_takeover_publishes_the_old_connections_will_before_the_new_one_speaks(
    broker: RunningBroker,
) -> None:
    secret = await broker.provision("fan-1")
    availability = device_topic("fan-1", AVAILABILITY)
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe(availability)
    old = broker.device("fan-1", secret, will=(availability, b"offline", 1, True))
    assert await old.connect()
    await old.publish(availability, b"online", retain=True)
    await old.go_silent()

    new = broker.device("fan-1", secret, will=(availability, b"offline", 1, True))
    assert await new.connect()
    await new.publish(availability, b"online", retain=True)

    assert [m.payload for m in await appliance.received(3)] == [b"online", b"offline", b"online"]


async def test_oversized_packet_closes_only_that_connection_and_is_counted(
    make_broker: MakeBroker,
) -> None:
    broker = await make_broker(max_packet_bytes=4096)
    secret = await broker.provision("trough-1")
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe("byre/#")
    telemetry = device_topic("trough-1", DeviceTopicKind.TELEMETRY)
    login = connect_packet("trough-1", username="trough-1", password=secret, keepalive=60)

    reply = await _raw_exchange(broker.port, login + publish_header(telemetry, 10_000_000))
    other = broker.device("trough-1", secret)
    assert await other.connect()
    await other.publish(telemetry, b"{}")

    assert reply == b"\x20\x02\x00\x00"  # accepted, then closed when the big packet began
    assert [m.payload for m in await appliance.received(1)] == [b"{}"]
    assert broker.counters.oversized_packets == 1


async def test_garbage_instead_of_connect_is_refused_and_counted(broker: RunningBroker) -> None:
    reply = await _raw_exchange(broker.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 200)
    appliance = broker.appliance()

    assert reply == b""
    assert await appliance.connect()
    assert broker.counters.malformed_connects == 1


async def test_connection_that_never_logs_in_is_closed(make_broker: MakeBroker) -> None:
    broker = await make_broker(connect_timeout_s=0.3)

    def hold() -> bytes:
        with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
            return sock.recv(16)

    assert await asyncio.to_thread(hold) == b""
    assert broker.counters.malformed_connects == 1


async def test_offline_queue_keeps_the_newest_messages_up_to_its_bound(
    make_broker: MakeBroker,
) -> None:
    broker = await make_broker(max_queued_messages=3)
    secret = await broker.provision("siren-1")
    device = broker.device("siren-1", secret, clean_session=False)
    assert await device.connect()
    await device.subscribe(device_topic("siren-1", COMMAND))
    await device.drop()
    appliance = broker.appliance()
    assert await appliance.connect()
    for n in range(5):
        await appliance.publish(device_topic("siren-1", COMMAND), str(n).encode())

    back = broker.device("siren-1", secret, clean_session=False)
    assert await back.connect()

    assert [m.payload for m in await back.received(3)] == [b"2", b"3", b"4"]
    assert broker.counters.queue_overflow == 2


async def test_disconnecting_a_revoked_device_publishes_its_will(broker: RunningBroker) -> None:
    secret = await broker.provision("gate-1")
    availability = device_topic("gate-1", AVAILABILITY)
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe(availability)
    device = broker.device("gate-1", secret, will=(availability, b"offline", 1, True))
    assert await device.connect()

    await broker.registry.revoke("gate-1")
    await broker.broker.disconnect_device("gate-1")

    assert [m.payload for m in await appliance.received(1)] == [b"offline"]
    assert not await broker.device("gate-1", secret).connect()


async def test_device_logs_in_over_tls(make_broker: MakeBroker, certificates: Certificates) -> None:
    port = free_port()
    broker = await make_broker(
        tls={"port": port, "certfile": certificates.certfile, "keyfile": certificates.keyfile}
    )
    secret = await broker.provision("climate-1")
    device = broker.peer(
        "climate-1", port=port, username="climate-1", password=secret, cafile=certificates.cafile
    )

    assert await device.connect()


async def test_device_logs_in_over_websocket(make_broker: MakeBroker) -> None:
    port = free_port()
    broker = await make_broker(websocket={"port": port})
    secret = await broker.provision("climate-1")
    appliance = broker.appliance()
    assert await appliance.connect()
    await appliance.subscribe("byre/#")
    device = broker.peer(
        "climate-1", port=port, username="climate-1", password=secret, transport="websockets"
    )

    assert await device.connect()
    await device.publish(device_topic("climate-1", DeviceTopicKind.TELEMETRY), b"{}")
    assert [m.payload for m in await appliance.received(1)] == [b"{}"]


async def test_broker_counts_connections(broker: RunningBroker) -> None:
    secret = await broker.provision("climate-1")
    assert await broker.device("climate-1", secret).connect()

    async def counted() -> bool:
        return broker.broker.connected_clients() == 1

    await eventually(counted)
    assert broker.counters.connections == 1
