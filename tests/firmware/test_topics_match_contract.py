"""The device firmware's MQTT topics are the contract's topics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import mqtt
from contracts.ids import IDENTIFIER_PATTERN
from contracts.mqtt import DeviceTopicKind, device_topic
from firmware.device import topics as firmware

device_ids = st.from_regex(IDENTIFIER_PATTERN, fullmatch=True)

FIRMWARE_KIND_CONSTANTS = {
    name
    for name, value in vars(firmware).items()
    if name.isupper() and isinstance(value, str) and name not in {"ROOT", "ONLINE", "OFFLINE"}
}


@pytest.mark.parametrize("kind", list(DeviceTopicKind))
def test_firmware_topic_equals_contract_topic(kind):
    assert firmware.topic("trough-3", kind.value) == device_topic("trough-3", kind)


@pytest.mark.parametrize("kind", list(DeviceTopicKind))
def test_firmware_topic_under_another_root_equals_contract_topic(kind):
    expected = device_topic("trough-3", kind, root="farm7")
    assert firmware.topic("trough-3", kind.value, root="farm7") == expected


@given(device_ids, st.sampled_from(DeviceTopicKind))
def test_firmware_topic_equals_contract_topic_for_any_device(device_id, kind):
    assert firmware.topic(device_id, kind.value) == device_topic(device_id, kind)


@pytest.mark.parametrize("kind", list(DeviceTopicKind))
def test_firmware_has_a_constant_for_every_topic_kind(kind):
    assert getattr(firmware, kind.name) == kind.value


def test_firmware_has_no_topic_kind_the_contract_lacks():
    assert {kind.name for kind in DeviceTopicKind} == FIRMWARE_KIND_CONSTANTS


@pytest.mark.parametrize(
    ("firmware_value", "contract_value"),
    [
        pytest.param(firmware.ROOT, mqtt.DEFAULT_ROOT, id="root"),
        pytest.param(firmware.ONLINE, mqtt.ONLINE, id="online"),
        pytest.param(firmware.OFFLINE, mqtt.OFFLINE, id="offline"),
    ],
)
def test_firmware_constant_equals_contract_constant(firmware_value, contract_value):
    assert firmware_value == contract_value
