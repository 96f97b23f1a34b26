"""Bad device input over real MQTT: thousands of random payloads are rejected and counted,
and the broker and the appliance carry on; the counts show at /metrics."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance import keys
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.devices.conftest import Farm
from tests.appliance.mqtt.peers import Peer
from tests.conftest import eventually

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
SAMPLE_LIKE = st.fixed_dictionaries(
    {"source_id": st.sampled_from(["climate-1", "climate-2", "", "x" * 70])},
    optional={
        "values": st.dictionaries(
            st.from_regex(r"[a-z_]{1,8}", fullmatch=True), JSON_VALUES, max_size=5
        ),
        "at": st.sampled_from(["2025-01-01T00:00:00Z", "yesterday", "2025-01-01T00:00:00"]),
        "extra": JSON_VALUES,
    },
)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    SAMPLE_LIKE.map(lambda v: json.dumps(v).encode()),
)


def random_payloads(count: int) -> list[bytes]:
    collected: list[bytes] = []

    @settings(max_examples=count, database=None, suppress_health_check=list(HealthCheck))
    @given(PAYLOADS)
    def collect(payload: bytes) -> None:
        collected.append(payload)

    collect()
    return collected


async def publish_all(device: Peer, topic: str, payloads: list[bytes]) -> None:
    for payload in payloads:
        device.client.publish(topic, payload, qos=0)
    await device.publish(topic, b"end of batch")  # QoS 1: the batch is through the broker


async def test_random_payloads_are_counted_and_the_appliance_carries_on(farm: Farm) -> None:
    device = await farm.online_device("climate-1")
    payloads = random_payloads(2500)
    telemetry = device_topic("climate-1", DeviceTopicKind.TELEMETRY)
    ingest = farm.appliance.app[keys.INGEST]

    await publish_all(device, telemetry, payloads)
    await publish_all(device, device_topic("climate-1", DeviceTopicKind.STATE), payloads[:500])
    await publish_all(
        device, device_topic("climate-1", DeviceTopicKind.COMMAND_ACK), payloads[:500]
    )

    async def all_handled() -> bool:
        return ingest.accepted + sum(ingest.rejected.values()) == len(payloads) + 1

    await eventually(all_handled, seconds=60)
    before = ingest.accepted
    good = {"source_id": "climate-1", "values": {"temperature_c": 20.5}}
    await device.publish(telemetry, json.dumps(good).encode())

    async def still_working() -> bool:
        return ingest.accepted == before + 1

    await eventually(still_working)
    assert sum(ingest.rejected.values()) > len(payloads) // 2


async def test_metrics_show_refusals_and_rejections(farm: Farm) -> None:
    device = await farm.online_device("climate-1")
    intruder = farm.device("climate-1", "wrong-secret", will=None)
    assert not await intruder.connect()
    await device.publish(device_topic("climate-1", DeviceTopicKind.TELEMETRY), b"{broken")
    await device.publish(device_topic("climate-2", DeviceTopicKind.TELEMETRY), b"{}")

    async def scraped() -> str:
        reply = await farm.api.get("/metrics")
        return reply.text

    async def counted() -> bool:
        return (
            'byre_device_messages_rejected_total{reason="telemetry:(message)"} 1.0'
            in await scraped()
        )

    await eventually(counted)
    text = await scraped()
    assert 'byre_mqtt_auth_failures_total{reason="bad_secret"} 1.0' in text
    assert 'byre_mqtt_acl_denied_total{action="publish"} 1.0' in text
    assert 'byre_devices{availability="online"} 1.0' in text
    assert re.search(r"^byre_mqtt_connected_clients [1-9]", text, re.MULTILINE)
    assert re.search(r"^byre_system_memory_pct \d", text, re.MULTILINE)
