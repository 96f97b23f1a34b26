"""Retention: media files go before events do, oldest first, never those of live incidents.

A run evicts (1) every file older than `max_age_days`, then (2) the oldest files while the
media files take more than `max_media_bytes`, or the disk has less free than `min_free_bytes`
or `min_free_percent`. Media of open or acknowledged incidents is never evicted. Eviction
marks the row `evicted` (the guard against a reopened incident is in that same statement),
then deletes the file; the row and every event stay.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.errors import StoreError
from appliance.media.settings import RetentionSettings
from appliance.media.store import MediaRow, MediaStore

log = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class DiskUsage:
    total: int
    free: int


DiskProbe = Callable[[Path], DiskUsage]


def disk_usage(path: Path) -> DiskUsage:
    usage = shutil.disk_usage(path)
    return DiskUsage(usage.total, usage.free)


@dataclass
class RetentionReport:
    evicted_for_age: int = 0
    evicted_for_space: int = 0
    freed_bytes: int = 0


class Retention:
    def __init__(
        self,
        settings: RetentionSettings,
        store: MediaStore,
        media_dir: Path,
        probe: DiskProbe = disk_usage,
    ) -> None:
        self.settings = settings
        self.store = store
        self.media_dir = media_dir
        self.probe = probe
        self.last: RetentionReport | None = None

    async def run(self) -> None:
        """Sweep every `interval_s`; log once when a sweep fails and once when it recovers."""
        failing = False
        while True:
            try:
                await self.sweep()
                if failing:
                    log.info("media retention works again")
                failing = False
            except (OSError, StoreError, sqlite3.Error) as err:
                if not failing:
                    log.error("media retention failed: %s", err)
                failing = True
            await asyncio.sleep(self.settings.interval_s)

    async def sweep(self, now: datetime | None = None) -> RetentionReport:
        report = RetentionReport()
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(days=self.settings.max_age_days)
        while batch := await self.store.evictable(created_before=cutoff, limit=BATCH):
            for media in batch:
                if await self._evict(media, report):
                    report.evicted_for_age += 1
            if len(batch) < BATCH:
                break
        while await self._pressed():
            batch = await self.store.evictable(created_before=None, limit=1)
            if not batch:
                log.warning("media retention: disk is short of space but nothing can be evicted")
                break
            if await self._evict(batch[0], report):
                report.evicted_for_space += 1
        if report.evicted_for_age or report.evicted_for_space:
            log.info(
                "media retention evicted %d old and %d for space (%d bytes)",
                report.evicted_for_age,
                report.evicted_for_space,
                report.freed_bytes,
            )
        self.last = report
        return report

    async def remove_leftovers(self) -> int:
        """Delete files of evicted rows that a stop between the two steps left behind."""
        paths = await self.store.evicted_paths()

        def remove() -> int:
            left = [p for p in paths if p.exists()]
            for path in left:
                path.unlink(missing_ok=True)
            return len(left)

        return await asyncio.to_thread(remove)

    async def _pressed(self) -> bool:
        if await self.store.ready_bytes() > self.settings.max_media_bytes:
            return True
        self.media_dir.mkdir(parents=True, exist_ok=True)
        usage = await asyncio.to_thread(self.probe, self.media_dir)
        return usage.free < self.settings.min_free_bytes or (
            usage.total > 0 and usage.free * 100 / usage.total < self.settings.min_free_percent
        )

    async def _evict(self, media: MediaRow, report: RetentionReport) -> bool:
        if not await self.store.mark_evicted(media.media_id):
            return False
        await asyncio.to_thread(media.path.unlink, missing_ok=True)
        report.freed_bytes += media.size_bytes or 0
        return True
