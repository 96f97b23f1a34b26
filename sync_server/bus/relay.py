"""The relay: drains the bus outbox in order, marking rows published once the broker confirmed.

Delivery is at least once: a batch that fails is published again, whole, after a back-off
on a fresh bus connection. Ingest wakes the relay after each commit; otherwise it polls.
On PostgreSQL each replica's relay locks the rows it publishes (`FOR UPDATE SKIP LOCKED`), so
several replicas share the work; batches of different replicas may then interleave on the bus.
On SQLite central is a single process with a single relay.
"""

from __future__ import annotations

import asyncio
import contextlib
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
MAX_UNMARKED_BATCHES = 20
"""Confirmed batches waiting for a mark before publishing waits for the database (SQLite;
on PostgreSQL 2, as each holds a pooled connection until it is marked)."""


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    last_published_at: datetime | None = None


@dataclass
class _Batch:
    """Rows read for publishing; on PostgreSQL with the session whose transaction holds
    their locks until they are marked (on SQLite the read is over and the session closed)."""

    session: AsyncSession | None
    pks: list[int]
    messages: list[BusMessage]


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
        self._woken = asyncio.Event()
        self._unmarked = 2 if lock_rows else MAX_UNMARKED_BATCHES

    def wake(self) -> None:
        """New rows are in the outbox (ingest in this process calls it after its commit)."""
        self._woken.set()

    async def run(self) -> None:
        """Relay forever; back off with jitter while the bus or the database fails."""
        while True:
            self._woken.clear()
            try:
                await self.relay_once()
                await self._purge_now_and_then()
            except (BusError, SQLAlchemyError, OSError) as err:
                await self.publisher.close()  # recover on a fresh connection (new metadata)
                await self.backoff.failed(err)
                continue
            self.backoff.succeeded()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_interval_s):
                    await self._woken.wait()

    async def relay_once(self) -> int:
        """Publish batches until no unpublished row is left; returns how many were published.

        Pipelined: the next batch is read while one is published, and confirmed batches are
        marked while the next ones are published (all confirmed since the last mark at once,
        so a database busy with ingest never holds the bus back). A batch goes to the bus only
        after the one before it was confirmed, so a failure never lets later rows overtake
        earlier ones.
        """
        published = 0
        batch = await self._read(after=None)
        following: asyncio.Task[_Batch | None] | None = None
        marking: asyncio.Task[None] | None = None
        confirmed: list[_Batch] = []  # published, not yet being marked
        try:
            while batch is not None:
                following = asyncio.create_task(self._read(after=self._cursor(batch)))
                await self._publish(batch)
                published += len(batch.pks)
                confirmed.append(batch)
                batch = None
                if marking is not None and (marking.done() or len(confirmed) >= self._unmarked):
                    previous, marking = marking, None
                    await previous
                if marking is None:
                    marking = asyncio.create_task(self._mark(confirmed))
                    confirmed = []
                batch, following = await following, None
        finally:
            await _discard(batch)  # read, not published
            if following is not None:
                await _discard(await _settled(following))
            try:
                if marking is not None:
                    await marking
            finally:
                if confirmed:
                    await self._mark(confirmed)
        return published

    def _cursor(self, batch: _Batch) -> int | None:
        """Where reading ahead starts. SQLite: after this batch (writers are serialised, so
        rows become visible in `pk` order). PostgreSQL: from the oldest row again — rows of
        the batches in flight stay locked and are skipped, and a row of a concurrent ingest
        transaction that committed late (lower `pk`) is still picked up at once."""
        return None if self.lock_rows else batch.pks[-1]

    async def _read(self, *, after: int | None) -> _Batch | None:
        session = self.sessions()
        try:
            rows = await next_unpublished(
                session, self.settings.batch_size, lock=self.lock_rows, after=after
            )
            if not self.lock_rows or not rows:
                # SQLite: end the read transaction so ingest can write while we publish.
                await session.close()
        except BaseException:
            await session.close()
            raise
        if not rows:
            return None
        return _Batch(
            session if self.lock_rows else None,
            [pk for pk, _ in rows],
            [message for _, message in rows],
        )

    async def _publish(self, batch: _Batch) -> None:
        try:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await self.publisher.publish(batch.messages)
        except TimeoutError as err:
            raise BusError(f"no confirmation within {self.settings.publish_timeout_s} s") from err

    async def _mark(self, batches: list[_Batch]) -> None:
        """Set `published_at` on confirmed batches: PostgreSQL in each batch's own transaction
        (releasing its locks), SQLite in one statement."""
        now = datetime.now(UTC)
        try:
            for batch in batches:
                if batch.session is not None:
                    await mark_published(batch.session, batch.pks, now)
                    await batch.session.commit()
            pks = [pk for batch in batches if batch.session is None for pk in batch.pks]
            if pks:
                async with self.sessions() as session:
                    await mark_published(session, pks, now)
                    await session.commit()
        finally:
            for batch in batches:
                await _discard(batch)
        self.stats.published += sum(len(batch.pks) for batch in batches)
        self.stats.batches += len(batches)
        self.stats.last_published_at = now

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


async def _settled(task: asyncio.Task[_Batch | None]) -> _Batch | None:
    """The task's batch once it finished; None when it failed (its session is closed)."""
    try:
        return await task
    except (SQLAlchemyError, OSError) as err:
        log.debug("bus relay: reading ahead failed: %r", err)
        return None


async def _discard(batch: _Batch | None) -> None:
    """Close a batch's session (rolling back what is not committed, releasing its locks)."""
    if batch is not None and batch.session is not None:
        await batch.session.close()
