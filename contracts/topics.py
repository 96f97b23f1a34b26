"""Bus topic names (Kafka topics, RabbitMQ routing keys, NATS subjects).

The bus topic of an event is its type, for the families HQ consumes; messages are
keyed by farm id so that one farm's events stay in order.
"""

from __future__ import annotations

from contracts.envelope import EventEnvelope, EventType

BUS_FAMILIES = ("incident", "telemetry", "commands")


def bus_topic(event_type: EventType) -> str | None:
    """The topic an event is published on, or None when it stays off the bus."""
    family = event_type.value.split(".", 1)[0]
    return event_type.value if family in BUS_FAMILIES else None


def bus_key(envelope: EventEnvelope) -> str:
    """Partition key: the farm, so each farm's events keep their order."""
    return envelope.farm_id


def bus_topics() -> list[str]:
    """Every topic the bridge may publish to."""
    return sorted({t for t in (bus_topic(e) for e in EventType) if t is not None})
