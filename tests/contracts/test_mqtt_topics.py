"""The MQTT device topic contract: builders and parsers agree, and unsafe ids never get in."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from contracts import TopicError
from contracts.ids import IDENTIFIER_PATTERN, Identifier
from contracts.mqtt import (
    DEFAULT_ROOT,
    DeviceTopic,
    DeviceTopicKind,
    active_alerts_topic,
    alert_topic,
    device_prefix,
    device_topic,
    is_alert_filter,
    parse_device_topic,
    subscription,
)

device_ids = st.from_regex(IDENTIFIER_PATTERN, fullmatch=True)
kinds = st.sampled_from(DeviceTopicKind)
id_chars = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
IDENTIFIER = TypeAdapter(Identifier)


def mqtt_matches(topic_filter: str, topic: str) -> bool:
    """Whether an MQTT topic filter matches a topic (`+` one level, `#` the rest)."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels) or level not in ("+", topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


def builds(device_id: str) -> bool:
    """Whether the topic builder accepts `device_id`; any error but TopicError escapes."""
    try:
        device_topic(device_id, DeviceTopicKind.STATE)
    except TopicError:
        return False
    return True


def is_identifier(value: str) -> bool:
    """Whether the message contract (pydantic) accepts `value` as an identifier."""
    try:
        IDENTIFIER.validate_python(value)
    except ValidationError:
        return False
    return True


def reparsed(text: str) -> str | None:
    """str() of the parsed topic, or None when the parser rejects it with TopicError."""
    try:
        return str(parse_device_topic(text))
    except TopicError:
        return None


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/x/c", False),
        ("a/+/c", "a/b/c/d", False),
        ("a/+", "a", False),
        ("a/#", "a/b/c", True),
        ("a/#", "a", True),
        ("a/b", "a/b", True),
        ("a/b", "a/bc", False),
        ("a/b/", "a/b/c", False),
        ("#", "anything/at/all", True),
    ],
)
def test_wildcard_matcher_follows_mqtt_rules(topic_filter, topic, matches):
    assert mqtt_matches(topic_filter, topic) is matches


@settings(max_examples=200)
@given(device_ids, kinds)
def test_built_topic_parses_back_to_the_same_device_and_kind(device_id, kind):
    topic = device_topic(device_id, kind)
    assert parse_device_topic(topic) == DeviceTopic(device_id, kind)
    assert str(parse_device_topic(topic)) == topic


@given(device_ids, device_ids, kinds)
def test_built_topic_under_another_root_parses_back_under_that_root(root, device_id, kind):
    topic = device_topic(device_id, kind, root=root)
    assert parse_device_topic(topic, root=root) == DeviceTopic(device_id, kind, root)
    assert str(DeviceTopic(device_id, kind, root)) == topic


@pytest.mark.parametrize("kind", list(DeviceTopicKind))
def test_topic_follows_the_documented_layout(kind):
    assert device_topic("trough-3", kind) == f"{DEFAULT_ROOT}/dev/trough-3/{kind.value}"


@pytest.mark.parametrize("kind", list(DeviceTopicKind))
@pytest.mark.parametrize(
    "device_id",
    [
        pytest.param("", id="empty"),
        pytest.param("gate/2", id="slash"),
        pytest.param("gate+2", id="plus"),
        pytest.param("+", id="single-level-wildcard"),
        pytest.param("gate#", id="hash"),
        pytest.param("#", id="multi-level-wildcard"),
        pytest.param("g" * 65, id="65-chars"),
        pytest.param("gate-2\n", id="trailing-newline"),
        pytest.param("gate 2", id="space"),
        pytest.param("-gate", id="leading-dash"),
        pytest.param("_gate", id="leading-underscore"),
        pytest.param("ворота", id="non-ascii"),
        pytest.param("gate\x002", id="nul"),
    ],
)
def test_unsafe_device_id_is_refused_when_building_a_topic(device_id, kind):
    with pytest.raises(TopicError) as caught:
        device_topic(device_id, kind)
    assert caught.value.field == "device_id"


@pytest.mark.parametrize("device_id", ["", "gate/2", "gate+2", "#", "g" * 65, "gate-2\n"], ids=repr)
def test_unsafe_device_id_is_refused_when_building_a_prefix(device_id):
    with pytest.raises(TopicError):
        device_prefix(device_id)


@pytest.mark.parametrize("root", ["", "byre/x", "+", "#", "byre\n"], ids=repr)
def test_unsafe_root_is_refused(root):
    with pytest.raises(TopicError) as caught:
        device_topic("trough-3", DeviceTopicKind.STATE, root=root)
    assert caught.value.field == "root"


def test_longest_valid_device_id_is_accepted():
    assert parse_device_topic(device_topic("g" * 64, DeviceTopicKind.COMMAND)).device_id == "g" * 64


@given(st.one_of(st.text(), device_ids, device_ids.map(lambda value: value + "\n")))
@example("gate-2\n")
@example("g" * 65)
def test_topic_builder_accepts_exactly_the_identifiers_messages_accept(device_id):
    assert builds(device_id) is is_identifier(device_id)


topic_levels = st.one_of(
    st.sampled_from(["byre", "dev", "cmd", "ack", "state", "telemetry", "availability", ""]),
    st.sampled_from(["+", "#", "gate-2", "trough-3"]),
    st.text(max_size=6),
)
topic_like_texts = st.lists(topic_levels, max_size=6).map("/".join)


@given(st.one_of(st.text(), topic_like_texts))
@example("byre/dev/gate-2/cmd/ack")
@example("byre/dev/gate-2\n/state")
def test_parsing_any_text_gives_the_same_topic_back_or_a_topic_error(text):
    assert reparsed(text) in (None, text)


@pytest.mark.parametrize(
    ("topic", "field"),
    [
        pytest.param("byre/dev/gate-2", "topic", id="no-kind"),
        pytest.param("byre", "topic", id="root-only"),
        pytest.param("", "topic", id="empty"),
        pytest.param("farm/dev/gate-2/state", "topic", id="other-root"),
        pytest.param("byre/devices/gate-2/state", "topic", id="not-dev"),
        pytest.param("/byre/dev/gate-2/state", "topic", id="leading-slash"),
        pytest.param("byre/dev//state", "device_id", id="empty-device"),
        pytest.param("byre/dev/+/state", "device_id", id="wildcard-device"),
        pytest.param("byre/dev/gate 2/state", "device_id", id="space-in-device"),
        pytest.param("byre/dev/gate-2\n/state", "device_id", id="newline-in-device"),
        pytest.param("byre/dev/gate-2/open", "kind", id="unknown-kind"),
        pytest.param("byre/dev/gate-2/state/", "kind", id="trailing-slash"),
        pytest.param("byre/dev/gate-2/cmd/ack/more", "kind", id="below-ack"),
        pytest.param("byre/dev/gate-2/ack", "kind", id="ack-without-cmd"),
        pytest.param("byre/dev/gate-2/#", "kind", id="wildcard-kind"),
    ],
)
def test_topic_outside_the_contract_is_rejected_naming_what_is_wrong(topic, field):
    with pytest.raises(TopicError) as caught:
        parse_device_topic(topic)
    assert caught.value.field == field


def test_topic_is_parsed_against_the_given_root_only():
    with pytest.raises(TopicError):
        parse_device_topic("byre/dev/gate-2/state", root="farm7")


@given(device_ids, kinds, kinds)
def test_subscription_matches_every_device_topic_of_its_kind_only(device_id, kind, other_kind):
    topic = device_topic(device_id, other_kind)
    assert mqtt_matches(subscription(kind), topic) is (kind == other_kind)


@pytest.mark.parametrize("kind", list(DeviceTopicKind))
def test_subscription_is_a_single_level_wildcard_over_devices(kind):
    assert subscription(kind) == f"{DEFAULT_ROOT}/dev/+/{kind.value}"
    assert "#" not in subscription(kind)


@given(device_ids, kinds)
def test_subscription_under_another_root_does_not_match_default_root_topics(device_id, kind):
    assert not mqtt_matches(subscription(kind, root="farm7"), device_topic(device_id, kind))


@given(device_ids, kinds)
def test_device_prefix_starts_every_topic_of_the_device(device_id, kind):
    prefix = device_prefix(device_id)
    assert device_topic(device_id, kind).startswith(prefix)
    assert mqtt_matches(prefix + "#", device_topic(device_id, kind))


distinct_id_pairs = st.tuples(device_ids, device_ids).filter(lambda pair: pair[0] != pair[1])
# one id a string prefix of the other (`cow` and `cow-2`): only the trailing slash tells them apart
prefixed_id_pairs = st.builds(
    lambda short, tail: (short[:32], short[:32] + tail), device_ids, id_chars
)


@given(st.one_of(distinct_id_pairs, prefixed_id_pairs), kinds)
@example(("cow", "cow-2"), DeviceTopicKind.COMMAND_ACK)
@example(("cow", "cow_"), DeviceTopicKind.STATE)
def test_device_prefix_starts_no_topic_of_another_device(ids, kind):
    device_id, other_id = ids
    assert not device_topic(other_id, kind).startswith(device_prefix(device_id))
    assert not device_topic(device_id, kind).startswith(device_prefix(other_id))
    assert not mqtt_matches(device_prefix(device_id) + "#", device_topic(other_id, kind))
    assert not mqtt_matches(device_prefix(other_id) + "#", device_topic(device_id, kind))


def test_device_prefix_ends_with_a_level_separator():
    assert device_prefix("cow") == f"{DEFAULT_ROOT}/dev/cow/"
    assert re.fullmatch(r"[^+#]*/", device_prefix("cow"))


INCIDENT = "0193f0a2-5b7c-7d8e-9f00-112233445566"


def test_alert_topics_sit_under_the_alert_tree():
    assert alert_topic(INCIDENT) == f"{DEFAULT_ROOT}/alerts/{INCIDENT}"
    assert active_alerts_topic(root="farm-7") == "farm-7/alerts/active"
    assert mqtt_matches(f"{DEFAULT_ROOT}/alerts/+", alert_topic(INCIDENT))
    assert not mqtt_matches(subscription(DeviceTopicKind.COMMAND), alert_topic(INCIDENT))


@pytest.mark.parametrize("incident_id", ["active", "a/b", "+", "#", "", "x" * 65])
def test_alert_topic_refuses_reserved_and_unsafe_ids(incident_id):
    with pytest.raises(TopicError):
        alert_topic(incident_id)


@pytest.mark.parametrize(
    ("topic_filter", "inside"),
    [
        ("byre/alerts/#", True),
        ("byre/alerts/+", True),
        ("byre/alerts/active", True),
        (f"byre/alerts/{INCIDENT}", True),
        ("byre/alerts", False),
        ("byre/alerts/+/x", False),
        ("byre/#", False),
        ("#", False),
        ("byre/dev/+/cmd", False),
        ("other/alerts/#", False),
    ],
)
def test_alert_filter_covers_the_alert_tree_and_nothing_else(topic_filter, inside):
    assert is_alert_filter(topic_filter) is inside
