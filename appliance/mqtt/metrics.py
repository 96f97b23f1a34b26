"""Counters of the device broker and the appliance's MQTT edge, exported at /metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class BrokerCounters:
    """What the broker refused or dropped, by reason; bad input never stops the broker."""

    auth_failures: Counter[str] = field(default_factory=Counter)
    acl_denied: Counter[str] = field(default_factory=Counter)
    oversized_packets: int = 0
    malformed_connects: int = 0
    keepalive_expired: int = 0
    queue_overflow: int = 0
    connections: int = 0
