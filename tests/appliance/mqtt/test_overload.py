"""The embedded broker under overload: a subscriber that acknowledges late loses nothing.

amqtt 0.12.1 gave up on an outgoing QoS 1 message whose PUBACK took more than 5 s, dropped it
from the session and then logged the late PUBACK as unknown: under load, messages were lost.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from appliance.mqtt.access import APPLIANCE_USERNAME
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.mqtt.conftest import MakeBroker
from tests.appliance.mqtt.peers import RawPublish, SlowSubscriber, connect_packet
from tests.conftest import eventually

MESSAGES = 300
WINDOW = 20
AMQTT_PUBACK_TIMEOUT_S = 5.0


async def test_slow_subscriber_receives_every_qos1_message_in_order(
    make_broker: MakeBroker,
) -> None:
    target = await make_broker()
    device_broker = target.broker._broker
    assert device_broker is not None
    device_broker.limits = replace(device_broker.limits, max_inflight_messages=WINDOW)
    client_id = f"{APPLIANCE_USERNAME}-slow"
    subscriber = SlowSubscriber(target.port)
    login = connect_packet(
        client_id,
        username=APPLIANCE_USERNAME,
        password=target.policy.appliance_secret,
        keepalive=60,
    )
    assert await subscriber.connect(login) == b"\x20\x02\x00\x00"
    assert await subscriber.subscribe(f"{target.settings.root}/dev/+/telemetry", 1) == (
        b"\x00\x01\x01"
    )
    secret = await target.provision("climate-1")
    device = target.device("climate-1", secret)
    assert await device.connect()
    topic = device_topic("climate-1", DeviceTopicKind.TELEMETRY)
    for n in range(MESSAGES):
        await device.publish(topic, str(n).encode(), qos=1)

    held: list[RawPublish] = [await subscriber.next_publish() for _ in range(WINDOW)]
    with pytest.raises(TimeoutError):  # the window is full until the subscriber acknowledges
        await subscriber.next_publish(AMQTT_PUBACK_TIMEOUT_S + 1.0)
    for message in held:  # later than amqtt waited
        subscriber.acknowledge(message)
    received = list(held)
    while len(received) < MESSAGES:
        message = await subscriber.next_publish()
        subscriber.acknowledge(message)
        received.append(message)
    session = device_broker._sessions[client_id][0]

    async def all_acknowledged() -> bool:  # late PUBACKs matched their messages
        return not session.inflight_out

    await eventually(all_acknowledged)
    subscriber.close()

    assert [int(m.payload) for m in received] == list(range(MESSAGES))
    assert all(m.qos == 1 and not m.dup for m in received)
    assert target.counters.queue_overflow == 0


async def test_late_acknowledgement_of_a_persistent_session_survives_a_reconnect(
    make_broker: MakeBroker,
) -> None:
    target = await make_broker()
    device_broker = target.broker._broker
    assert device_broker is not None
    device_broker.limits = replace(device_broker.limits, max_inflight_messages=WINDOW)
    client_id = f"{APPLIANCE_USERNAME}-persistent"
    login = connect_packet(
        client_id,
        username=APPLIANCE_USERNAME,
        password=target.policy.appliance_secret,
        keepalive=60,
        clean=False,
    )
    first = SlowSubscriber(target.port)
    assert (await first.connect(login))[:2] == b"\x20\x02"
    await first.subscribe(f"{target.settings.root}/dev/+/telemetry", 1)
    secret = await target.provision("climate-2")
    device = target.device("climate-2", secret)
    assert await device.connect()
    topic = device_topic("climate-2", DeviceTopicKind.TELEMETRY)
    for n in range(MESSAGES):
        await device.publish(topic, str(n).encode(), qos=1)
    held = [await first.next_publish() for _ in range(WINDOW)]
    first.close()  # nothing acknowledged: 20 in flight, the rest not sent yet

    back = SlowSubscriber(target.port)
    assert (await back.connect(login))[:4] == b"\x20\x02\x01\x00"  # session present
    received: list[RawPublish] = []
    while len(received) < MESSAGES:
        message = await back.next_publish()
        back.acknowledge(message)
        received.append(message)
    back.close()

    assert [int(m.payload) for m in received] == list(range(MESSAGES))
    assert all(m.dup for m in received[:WINDOW])
    assert not any(m.dup for m in received[WINDOW:])
    assert [m.packet_id for m in received[:WINDOW]] == [m.packet_id for m in held]
