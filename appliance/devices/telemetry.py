"""Device telemetry kept at two resolutions: one-minute and one-hour rollups in SQLite.

Samples are folded in memory and written in one transaction per flush (not one per sample);
old rollups are pruned by age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from appliance.store.db import Database
from contracts import TelemetrySample

BUCKETS = (60, 3600)


@dataclass
class _Fold:
    count: int
    low: float
    high: float
    total: float
    last: float

    def add(self, value: float) -> None:
        self.count += 1
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        self.total += value
        self.last = value


def bucket_start(at: datetime, seconds: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


class TelemetryRollups:
    def __init__(self, db: Database, *, minute_days: int, hour_days: int) -> None:
        self.db = db
        self.retention = {60: timedelta(days=minute_days), 3600: timedelta(days=hour_days)}
        self._pending: dict[tuple[str, str, int, str], _Fold] = {}

    async def on_sample(self, sample: TelemetrySample) -> None:
        at = sample.at or datetime.now(UTC)
        for seconds in BUCKETS:
            start = bucket_start(at, seconds).isoformat()
            for name, value in sample.values.items():
                key = (sample.source_id, name, seconds, start)
                fold = self._pending.get(key)
                if fold is None:
                    self._pending[key] = _Fold(1, value, value, value, value)
                else:
                    fold.add(value)

    async def flush(self) -> int:
        """Write what was folded since the last flush; returns the rows touched."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO telemetry_rollups (device_id, name, bucket_s, bucket_start, count,"
                " min, max, sum, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id, name, bucket_s, bucket_start) DO UPDATE SET"
                " count = count + excluded.count, min = MIN(min, excluded.min),"
                " max = MAX(max, excluded.max), sum = sum + excluded.sum, last = excluded.last",
                [(*key, f.count, f.low, f.high, f.total, f.last) for key, f in pending.items()],
            )
        return len(pending)

    async def prune(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        async with self.db.transaction() as conn:
            for seconds, keep in self.retention.items():
                await conn.execute(
                    "DELETE FROM telemetry_rollups WHERE bucket_s = ? AND bucket_start < ?",
                    (seconds, (now - keep).isoformat()),
                )

    async def series(
        self, device_id: str, name: str, *, bucket_s: int, since: datetime
    ) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all(
            "SELECT * FROM telemetry_rollups WHERE device_id = ? AND name = ? AND bucket_s = ?"
            " AND bucket_start >= ? ORDER BY bucket_start",
            (device_id, name, bucket_s, bucket_start(since, bucket_s).isoformat()),
        )
        return [
            {
                "at": r["bucket_start"],
                "count": r["count"],
                "min": r["min"],
                "max": r["max"],
                "mean": r["sum"] / r["count"],
                "last": r["last"],
            }
            for r in rows
        ]
