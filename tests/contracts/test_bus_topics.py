"""Bus topic names: an event's topic is its type for the families HQ consumes, keyed by farm."""

from __future__ import annotations

from enum import StrEnum
from typing import cast

import pytest

from contracts import EventType
from contracts.topics import BUS_FAMILIES, bus_key, bus_topic, bus_topics
from tests.contracts.examples import FARM_ID, example_json, make_envelope

# Written out on purpose: a new event type must be given its topic here explicitly.
EXPECTED_TOPICS: dict[EventType, str | None] = {
    EventType.FARM_EVENT: "incident.event",
    EventType.INCIDENT_OPENED: "incident.opened",
    EventType.INCIDENT_UPDATED: "incident.updated",
    EventType.INCIDENT_ACKNOWLEDGED: "incident.acknowledged",
    EventType.INCIDENT_ESCALATED: "incident.escalated",
    EventType.INCIDENT_RESOLVED: "incident.resolved",
    EventType.MEDIA_READY: "incident.media_ready",
    EventType.TELEMETRY_DEVICE: "telemetry.device",
    EventType.TELEMETRY_SYSTEM: "telemetry.system",
    EventType.COMMAND_REQUESTED: "commands.requested",
    EventType.COMMAND_SENT: "commands.sent",
    EventType.COMMAND_ACKNOWLEDGED: "commands.acknowledged",
    EventType.COMMAND_TIMED_OUT: "commands.timed_out",
}


class _LocalOnlyType(StrEnum):
    """Event types of families that stay on the farm (none exist yet)."""

    AUDIT_LOGIN = "audit.login"
    DIAGNOSTICS_TRACE = "diagnostics.trace"


def test_every_event_type_has_an_expected_topic():
    assert set(EXPECTED_TOPICS) == set(EventType)


def test_bus_families_are_the_designed_ones():
    assert set(BUS_FAMILIES) == {"incident", "telemetry", "commands"}


@pytest.mark.parametrize(("event_type", "topic"), EXPECTED_TOPICS.items())
def test_event_type_of_a_bus_family_is_published_on_its_own_type(event_type, topic):
    assert bus_topic(event_type) == topic == event_type.value


@pytest.mark.parametrize("event_type", list(_LocalOnlyType))
def test_event_type_outside_the_bus_families_stays_off_the_bus(event_type):
    assert bus_topic(cast(EventType, event_type)) is None


def test_bus_topics_are_sorted_and_unique():
    topics = bus_topics()
    assert topics == sorted(set(topics))


def test_bus_topics_are_exactly_the_topics_of_the_event_types():
    assert bus_topics() == sorted(t for t in EXPECTED_TOPICS.values() if t is not None)


@pytest.mark.parametrize("topic", bus_topics())
def test_every_bus_topic_is_in_a_bus_family(topic):
    assert topic.split(".", 1)[0] in BUS_FAMILIES


@pytest.mark.parametrize("event_type", list(EventType))
def test_bus_key_is_the_farm_id(event_type):
    assert bus_key(make_envelope(event_type)) == FARM_ID


def test_events_of_one_farm_from_two_appliances_share_a_key():
    data = example_json("EventEnvelope")
    first = make_envelope().model_validate({**data, "appliance_id": "barn-box-1"})
    second = make_envelope().model_validate({**data, "appliance_id": "barn-box-2"})
    assert bus_key(first) == bus_key(second)


def test_events_of_two_farms_have_different_keys():
    data = example_json("EventEnvelope")
    other = make_envelope().model_validate({**data, "farm_id": "farm-8"})
    assert bus_key(other) == "farm-8" != bus_key(make_envelope())
