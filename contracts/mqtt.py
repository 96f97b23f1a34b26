"""The MQTT topic contract between the appliance and the farm's devices.

    {root}/dev/{device_id}/telemetry     device -> appliance  TelemetrySample JSON
    {root}/dev/{device_id}/state         device -> appliance  JSON object, retained
    {root}/dev/{device_id}/availability  device -> appliance  "online"/"offline", retained (will)
    {root}/dev/{device_id}/cmd           appliance -> device  DeviceCommand JSON
    {root}/dev/{device_id}/cmd/ack       device -> appliance  CommandAck JSON

A device may publish only under its own prefix and subscribe only to its `cmd` topic.

Alerts, for sirens, lights and home-automation hubs (the appliance publishes, devices may
subscribe; every message retained, QoS 1):

    {root}/alerts/{incident_id}          incident state JSON (resolved ones stay, state resolved)
    {root}/alerts/active                 {count, incident_ids, highest_severity} of open ones
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from contracts.errors import TopicError
from contracts.ids import IDENTIFIER_PATTERN

DEFAULT_ROOT = "byre"
ONLINE = "online"
OFFLINE = "offline"

_ID = re.compile(IDENTIFIER_PATTERN)


class DeviceTopicKind(StrEnum):
    TELEMETRY = "telemetry"
    STATE = "state"
    AVAILABILITY = "availability"
    COMMAND = "cmd"
    COMMAND_ACK = "cmd/ack"


@dataclass(frozen=True)
class DeviceTopic:
    device_id: str
    kind: DeviceTopicKind
    root: str = DEFAULT_ROOT

    def __str__(self) -> str:
        return device_topic(self.device_id, self.kind, root=self.root)


def _check_segment(value: str, what: str) -> None:
    if not _ID.fullmatch(value):
        raise TopicError(f"{value!r} is not a valid {what} (letters, digits, _ and -)", field=what)


def device_topic(device_id: str, kind: DeviceTopicKind, *, root: str = DEFAULT_ROOT) -> str:
    """Build a device topic; raises TopicError for an id unsafe in a topic."""
    _check_segment(root, "root")
    _check_segment(device_id, "device_id")
    return f"{root}/dev/{device_id}/{kind.value}"


def device_prefix(device_id: str, *, root: str = DEFAULT_ROOT) -> str:
    """Everything a device may publish to lies under this prefix."""
    _check_segment(device_id, "device_id")
    return f"{root}/dev/{device_id}/"


def subscription(kind: DeviceTopicKind, *, root: str = DEFAULT_ROOT) -> str:
    """Wildcard subscription for one kind of message from every device."""
    _check_segment(root, "root")
    return f"{root}/dev/+/{kind.value}"


def parse_device_topic(topic: str, *, root: str = DEFAULT_ROOT) -> DeviceTopic:
    """Parse a concrete device topic; raises TopicError naming what is wrong."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != root or parts[1] != "dev":
        raise TopicError(f"{topic!r} is not under {root}/dev/", field="topic")
    _check_segment(parts[2], "device_id")
    tail = "/".join(parts[3:])
    try:
        kind = DeviceTopicKind(tail)
    except ValueError as err:
        raise TopicError(f"{tail!r} is not a device topic kind", field="kind") from err
    return DeviceTopic(device_id=parts[2], kind=kind, root=root)


ALERTS = "alerts"
ACTIVE_ALERTS = "active"


def alert_topic(incident_id: str, *, root: str = DEFAULT_ROOT) -> str:
    """The retained state topic of one incident; raises TopicError for an unsafe id."""
    _check_segment(root, "root")
    _check_segment(incident_id, "incident_id")
    if incident_id == ACTIVE_ALERTS:
        raise TopicError(f"{incident_id!r} is reserved for the summary", field="incident_id")
    return f"{root}/{ALERTS}/{incident_id}"


def active_alerts_topic(*, root: str = DEFAULT_ROOT) -> str:
    """The retained summary of the incidents alerting now."""
    _check_segment(root, "root")
    return f"{root}/{ALERTS}/{ACTIVE_ALERTS}"


def is_alert_filter(topic_filter: str, *, root: str = DEFAULT_ROOT) -> bool:
    """Whether a topic (or subscription filter) lies inside the alert tree and nowhere else."""
    parts = topic_filter.split("/")
    if len(parts) < 2 or parts[0] != root or parts[1] != ALERTS:
        return False
    rest = parts[2:]
    if rest == ["#"]:
        return True
    return len(rest) == 1 and (rest[0] == "+" or bool(_ID.fullmatch(rest[0])))
