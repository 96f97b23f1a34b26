"""MQTT 3.1.1 behaviour devices rely on, checked over real sockets on the embedded broker and on
the machine's Mosquitto (the reference); amqtt 0.12.1 alone failed the first five groups."""

from __future__ import annotations

import asyncio

import pytest

from tests.appliance.mqtt.conftest import BrokerUnderTest
from tests.appliance.mqtt.peers import RawClient, SilentDevice, connect_packet

CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


# --- keepalive expiry publishes the last will -------------------------------------------------


async def test_silent_client_is_dropped_after_its_keepalive_and_its_will_published(
    broker_under_test: BrokerUnderTest,
) -> None:
    target = broker_under_test
    watcher = target.peer("watcher")
    assert await watcher.connect()
    await watcher.subscribe(target.topic("will"), qos=1)
    silent = SilentDevice(target.port)
    username, password = target.credentials or (None, None)
    packet = connect_packet(
        target.client_id("silent"),
        username=username,
        password=password,
        keepalive=1,
        will=(target.topic("will"), b"offline"),
    )

    try:
        assert await silent.connect(packet) == CONNACK_ACCEPTED
        received = await watcher.received(1, seconds=15)
    finally:
        silent.close()

    assert [(m.topic, m.payload) for m in received] == [(target.topic("will"), b"offline")]


async def test_client_that_pings_is_not_dropped(broker_under_test: BrokerUnderTest) -> None:
    target = broker_under_test
    watcher = target.peer("watcher")
    assert await watcher.connect()
    await watcher.subscribe(target.topic("will"), qos=1)
    device = target.peer("device", will=(target.topic("will"), b"offline", 1, False))
    assert await device.connect(keepalive=1)

    await asyncio.sleep(3)

    assert watcher.messages == []


async def test_lost_connection_publishes_the_will_and_a_clean_disconnect_does_not(
    broker_under_test: BrokerUnderTest,
) -> None:
    target = broker_under_test
    watcher = target.peer("watcher")
    assert await watcher.connect()
    await watcher.subscribe(target.topic("will/+"), qos=1)
    polite = target.peer("polite", will=(target.topic("will/polite"), b"offline", 1, False))
    lost = target.peer("lost", will=(target.topic("will/lost"), b"offline", 1, False))
    assert await polite.connect()
    assert await lost.connect()

    await polite.disconnect()
    await lost.drop()

    assert [m.topic for m in await watcher.received(1)] == [target.topic("will/lost")]


# --- retained messages -------------------------------------------------------------------------


async def test_empty_retained_payload_clears_the_retained_message(
    broker_under_test: BrokerUnderTest,
) -> None:
    target = broker_under_test
    publisher = target.peer("publisher")
    assert await publisher.connect()
    await publisher.publish(target.topic("state"), b"open", qos=1, retain=True)
    await publisher.publish(target.topic("state"), b"", qos=1, retain=True)
    await publisher.publish(target.topic("marker"), b"end", qos=1, retain=True)
    late = target.peer("late")
    assert await late.connect()

    await late.subscribe(target.topic("#"), qos=1)

    assert [(m.topic, m.payload) for m in await late.received(1)] == [
        (target.topic("marker"), b"end")
    ]
    await asyncio.sleep(0.3)
    assert len(late.messages) == 1


@pytest.mark.parametrize(
    ("publish_qos", "subscribe_qos", "delivered_qos"),
    [(0, 1, 0), (1, 1, 1), (1, 0, 0), (2, 1, 1), (1, 2, 1), (2, 2, 2)],
)
async def test_retained_message_is_delivered_at_the_lower_qos(
    broker_under_test: BrokerUnderTest, publish_qos, subscribe_qos, delivered_qos
) -> None:
    target = broker_under_test
    publisher = target.peer("publisher")
    assert await publisher.connect()
    await publisher.publish(target.topic("state"), b"on", qos=publish_qos, retain=True)
    late = target.peer("late")
    assert await late.connect()

    await late.subscribe(target.topic("state"), qos=subscribe_qos)

    [message] = await late.received(1)
    assert (message.payload, message.qos, message.retain) == (b"on", delivered_qos, True)


@pytest.mark.parametrize(
    ("publish_qos", "subscribe_qos", "delivered_qos"),
    [(0, 1, 0), (1, 1, 1), (1, 0, 0), (2, 1, 1), (1, 2, 1)],
)
async def test_live_message_is_delivered_at_the_lower_qos_without_retain(
    broker_under_test: BrokerUnderTest, publish_qos, subscribe_qos, delivered_qos
) -> None:
    target = broker_under_test
    subscriber = target.peer("subscriber")
    assert await subscriber.connect()
    await subscriber.subscribe(target.topic("live"), qos=subscribe_qos)
    publisher = target.peer("publisher")
    assert await publisher.connect()

    await publisher.publish(target.topic("live"), b"x", qos=publish_qos, retain=True)

    [message] = await subscriber.received(1)
    assert (message.qos, message.retain) == (delivered_qos, False)


async def test_reconnecting_session_is_not_sent_retained_messages_again(
    broker_under_test: BrokerUnderTest,
) -> None:
    target = broker_under_test
    publisher = target.peer("publisher")
    assert await publisher.connect()
    await publisher.publish(target.topic("a/state"), b"1", qos=1, retain=True)
    await publisher.publish(target.topic("b/state"), b"2", qos=1, retain=True)
    other = target.peer("other")
    assert await other.connect()
    await other.subscribe(target.topic("b/#"), qos=1)
    first = target.peer("device", clean_session=False)
    assert await first.connect()
    await first.subscribe(target.topic("a/#"), qos=1)
    assert [m.payload for m in await first.received(1)] == [b"1"]
    await first.disconnect()

    again = target.peer("device", clean_session=False)
    assert await again.connect()
    await asyncio.sleep(0.5)

    assert again.messages == []


# --- offline queueing and redelivery -----------------------------------------------------------


async def test_qos1_messages_for_a_disconnected_persistent_session_are_queued(
    broker_under_test: BrokerUnderTest,
) -> None:
    target = broker_under_test
    device = target.peer("device", clean_session=False)
    assert await device.connect()
    await device.subscribe(target.topic("cmd"), qos=1)
    await device.drop()
    publisher = target.peer("publisher")
    assert await publisher.connect()
    for n in range(3):
        await publisher.publish(target.topic("cmd"), f"qos1-{n}".encode(), qos=1)
    await publisher.publish(target.topic("cmd"), b"qos0", qos=0)

    back = target.peer("device", clean_session=False)
    assert await back.connect()

    received = await back.received(3)
    await asyncio.sleep(0.3)
    assert [(m.payload, m.qos, m.retain) for m in back.messages] == [
        (b"qos1-0", 1, False),
        (b"qos1-1", 1, False),
        (b"qos1-2", 1, False),
    ]
    assert len(received) == 3


async def test_clean_session_gets_nothing_queued(broker_under_test: BrokerUnderTest) -> None:
    target = broker_under_test
    device = target.peer("device", clean_session=False)
    assert await device.connect()
    await device.subscribe(target.topic("cmd"), qos=1)
    await device.drop()
    publisher = target.peer("publisher")
    assert await publisher.connect()
    await publisher.publish(target.topic("cmd"), b"missed", qos=1)

    back = target.peer("device", clean_session=True)
    assert await back.connect()
    await asyncio.sleep(0.5)

    assert back.messages == []


async def test_unacknowledged_qos1_message_is_redelivered_on_reconnect(
    broker_under_test: BrokerUnderTest,
) -> None:
    qos = 1
    target = broker_under_test
    device = target.peer("device", clean_session=False, manual_ack=True)
    assert await device.connect()
    await device.subscribe(target.topic("cmd"), qos=qos)
    publisher = target.peer("publisher")
    assert await publisher.connect()
    await publisher.publish(target.topic("cmd"), b"open", qos=qos)
    [first] = await device.received(1)
    await device.drop()  # received, never acknowledged

    back = target.peer("device", clean_session=False)
    assert await back.connect()

    [again] = await back.received(1)
    assert (first.dup, again.payload, again.qos, again.dup) == (False, b"open", qos, True)


# --- one connection per client id -------------------------------------------------------------


async def test_second_connection_with_the_same_client_id_replaces_the_first(
    broker_under_test: BrokerUnderTest,
) -> None:
    target = broker_under_test
    first = target.peer("device", clean_session=False)
    assert await first.connect()
    await first.subscribe(target.topic("cmd"), qos=1)
    await first.go_silent()  # its link died without the broker noticing yet

    second = target.peer("device", clean_session=False)
    assert await second.connect()
    publisher = target.peer("publisher")
    assert await publisher.connect()
    await publisher.publish(target.topic("cmd"), b"open", qos=1)

    assert [m.payload for m in await second.received(1)] == [b"open"]


async def test_unacknowledged_qos2_message_is_redelivered_on_reconnect(
    broker_under_test: BrokerUnderTest,
) -> None:
    target = broker_under_test
    username, password = target.credentials or (None, None)
    login = connect_packet(
        target.client_id("raw"), username=username, password=password, keepalive=60, clean=False
    )
    device = RawClient(target.port)
    assert await device.connect(login) == b"\x20\x02\x00\x00"
    await device.subscribe(target.topic("cmd"), qos=2)
    publisher = target.peer("publisher")
    assert await publisher.connect()
    await publisher.publish(target.topic("cmd"), b"open", qos=2)
    first = await device.next_publish()
    device.close()  # PUBLISH received, PUBREC never sent

    back = RawClient(target.port)
    assert (await back.connect(login))[:2] == b"\x20\x02"
    again = await back.next_publish()
    back.close()

    assert (first.dup, first.qos, first.payload) == (False, 2, b"open")
    assert (again.dup, again.qos, again.payload, again.packet_id) == (
        True,
        2,
        b"open",
        first.packet_id,
    )
