"""The relay: drains the bus outbox in order, marking rows published once the broker confirmed.

Delivery is at least once: a batch that fails is published again, whole, after a back-off.
On PostgreSQL each replica's relay locks the rows it publishes (`FOR UPDATE SKIP LOCKED`), so
several replicas share the work; batches of different replicas may then interleave on the bus.
On SQLite central is a single process with a single relay.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from sync_server.bus.backoff import Backoff
from sync_server.bus.base import BusPublisher
from sync_server.bus.errors import BusError
from sync_server.bus.message import BusMessage
from sync_server.bus.outbox import delete_published_before, mark_published, next_unpublished
from sync_server.bus.settings import RelaySettings

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(minutes=10)


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    last_published_at: datetime | None = None


class Relay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: BusPublisher,
        settings: RelaySettings,
        *,
        lock_rows: bool,
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher
        self.settings = settings
        self.lock_rows = lock_rows
        self.stats = RelayStats()
        self.backoff = Backoff("bus relay", settings.retry_min_s, settings.retry_max_s, log)
        self._purged_at: datetime | None = None

    async def run(self) -> None:
        """Relay forever; back off with jitter while the bus or the database fails."""
        while True:
            try:
                sent = await self.relay_once()
                await self._purge_now_and_then()
            except (BusError, SQLAlchemyError, OSError) as err:
                await self.backoff.failed(err)
                continue
            self.backoff.succeeded()
            if sent < self.settings.batch_size:
                await asyncio.sleep(self.settings.poll_interval_s)

    async def relay_once(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        async with self.sessions() as session:
            rows = await next_unpublished(session, self.settings.batch_size, lock=self.lock_rows)
            if not rows:
                return 0
            if not self.lock_rows:
                # SQLite: end the read transaction so ingest can write while we publish.
                await session.commit()
            messages = [BusMessage.of(row) for row in rows]
            try:
                async with asyncio.timeout(self.settings.publish_timeout_s):
                    await self.publisher.publish(messages)
            except TimeoutError as err:
                await self.publisher.close()  # start over on a fresh connection
                raise BusError(
                    f"no confirmation within {self.settings.publish_timeout_s} s"
                ) from err
            now = datetime.now(UTC)
            await mark_published(session, [row.pk for row in rows if row.pk is not None], now)
            await session.commit()
        self.stats.published += len(rows)
        self.stats.batches += 1
        self.stats.last_published_at = now
        return len(rows)

    async def _purge_now_and_then(self) -> None:
        now = datetime.now(UTC)
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        async with self.sessions() as session:
            await delete_published_before(
                session, now - timedelta(seconds=self.settings.keep_published_s)
            )
            await session.commit()
        self._purged_at = now
