"""What the appliance knows about each device: availability (from the devices' retained
`online` and their `offline` last will), last reported state, and when it was last heard from."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.devices.registry import DeviceRegistry
from appliance.store.db import Database
from contracts.mqtt import OFFLINE, ONLINE, DeviceTopic

log = logging.getLogger(__name__)

MAX_STATE_BYTES = 4096

AvailabilityListener = Callable[[str, str, datetime], Awaitable[None]]
"""Called with device id, new availability and when it changed."""


@dataclass(frozen=True)
class DeviceStatus:
    device_id: str
    availability: str
    availability_at: datetime | None
    state: dict[str, Any] | None
    state_at: datetime | None
    last_seen_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "availability": self.availability,
            "availability_at": _iso(self.availability_at),
            "state": self.state,
            "state_at": _iso(self.state_at),
            "last_seen_at": _iso(self.last_seen_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class DeviceStatusTracker:
    """Consumes availability and state messages; keeps last-seen times (flushed in batches)."""

    def __init__(self, db: Database, registry: DeviceRegistry) -> None:
        self.db = db
        self.registry = registry
        self.rejected: Counter[str] = Counter()
        self.listeners: list[AvailabilityListener] = []
        self._seen: dict[str, datetime] = {}

    def seen(self, device_id: str, at: datetime | None = None) -> None:
        """Note that a device was heard from (written by the next `flush_seen`)."""
        self._seen[device_id] = at or datetime.now(UTC)

    async def flush_seen(self) -> int:
        seen, self._seen = self._seen, {}
        if seen:
            async with self.db.transaction() as conn:
                await conn.executemany(
                    "UPDATE device_status SET last_seen_at = ? WHERE device_id = ?",
                    [(at.isoformat(), device_id) for device_id, at in seen.items()],
                )
        return len(seen)

    async def handle_availability(self, topic: DeviceTopic, data: bytes, retain: bool) -> None:
        if not data:
            return  # a cleared retained message
        value = data.decode(errors="replace")
        if value not in (ONLINE, OFFLINE):
            self.rejected["availability"] += 1
            return
        if not await self._known(topic.device_id):
            return
        now = datetime.now(UTC)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE device_status SET availability = ?, availability_at = ?"
                " WHERE device_id = ? AND availability != ?",
                (value, now.isoformat(), topic.device_id, value),
            )
            changed = cursor.rowcount > 0
        if value == ONLINE:
            self.seen(topic.device_id, now)
        if changed:
            log.info("device %s is %s", topic.device_id, value)
            for listener in self.listeners:
                await listener(topic.device_id, value, now)

    async def handle_state(self, topic: DeviceTopic, data: bytes, retain: bool) -> None:
        if not data:
            return
        try:
            state = json.loads(data) if len(data) <= MAX_STATE_BYTES else None
        except ValueError:
            state = None
        if not isinstance(state, dict):
            self.rejected["state"] += 1
            return
        if not await self._known(topic.device_id):
            return
        now = datetime.now(UTC)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE device_status SET state = ?, state_at = ? WHERE device_id = ?",
                (json.dumps(state, separators=(",", ":")), now.isoformat(), topic.device_id),
            )
        self.seen(topic.device_id, now)

    async def get(self, device_id: str) -> DeviceStatus | None:
        row = await self.db.fetch_one(
            "SELECT * FROM device_status WHERE device_id = ?", (device_id,)
        )
        if row is None:
            return None
        seen = self._seen.get(device_id) or _time(row["last_seen_at"])
        return DeviceStatus(
            device_id=device_id,
            availability=row["availability"],
            availability_at=_time(row["availability_at"]),
            state=json.loads(row["state"]) if row["state"] else None,
            state_at=_time(row["state_at"]),
            last_seen_at=seen,
        )

    async def _known(self, device_id: str) -> bool:
        device = await self.registry.get(device_id)
        if device is None or not device.active:
            self.rejected["unknown_device"] += 1
            return False
        return True
