"""The sync agent: drains the outbox to central, resuming where it stopped.

Batches are picked by priority (see `queue`), written straight from the stored rows (see
`batch`), gzip-compressed and signed by the client. Up to `sync.max_in_flight` batches are
on their way at once, so round trips overlap; each leaves the outbox only when central has
answered for it, so a failure anywhere just leaves its rows pending for the next round.

Two limits adapt, like a TCP window: the batch size halves when central times out or answers
413, and the number of batches in flight drops to one on any failure; both double back on
success (up to `batch_size` and `max_in_flight`). A single event central still calls too big
(413) is parked (a timeout alone never parks anything: the link may just be down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from appliance.errors import CentralError
from appliance.settings import SyncSettings
from appliance.store.events import EventStore, OutboxItem
from appliance.sync.batch import batch_body
from appliance.sync.client import CentralClient
from appliance.sync.errors import CentralTimeoutError
from appliance.sync.identity import Identity, IdentityStore
from appliance.sync.queue import BatchPicker
from contracts import new_id

log = logging.getLogger(__name__)


@dataclass
class SyncStatus:
    last_success_at: datetime | None = None
    last_error: str | None = None
    synced: int = 0
    batch_limit: int = 0
    in_flight_limit: int = 1
    identity_changed: asyncio.Event = field(default_factory=asyncio.Event)


class SyncAgent:
    def __init__(
        self,
        events: EventStore,
        identities: IdentityStore,
        client: CentralClient,
        settings: SyncSettings,
    ) -> None:
        self.events = events
        self.identities = identities
        self.client = client
        self.settings = settings
        self.status = SyncStatus(batch_limit=settings.batch_size)
        self._failed = False  # a batch of the current round failed: limits do not grow

    async def run(self) -> None:
        """Loop forever: wait for work, send batches, back off with jitter on failure."""
        delay = self.settings.retry_min_s
        while True:
            self.status.identity_changed.clear()
            identity = await self.identities.load()
            if identity is None:
                await self._wait(self.status.identity_changed, self.settings.idle_interval_s)
                continue
            self.events.recorded.clear()
            try:
                sent = await self.sync_once(identity)
            except CentralError as err:
                if self.status.last_error is None:
                    log.warning("sync failed, will retry: %s", err)
                self.status.last_error = str(err)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            if self.status.last_error is not None:
                log.info("sync recovered")
                self.status.last_error = None
            delay = self.settings.retry_min_s
            if sent == 0:
                await self._wait(self.events.recorded, self.settings.idle_interval_s)

    async def sync_once(self, identity: Identity) -> int:
        """Send pending events until none are left or a batch fails; returns how many left
        the outbox. After a failure no new batch starts; the ones in flight are awaited,
        then the first error is raised (the caller backs off)."""
        self._failed = False
        picker = BatchPicker(self.events)
        in_flight: dict[asyncio.Task[int], list[OutboxItem]] = {}
        sending: set[int] = set()
        error: CentralError | None = None
        handled = 0
        try:
            while True:
                while error is None and len(in_flight) < self.status.in_flight_limit:
                    items = await picker.next_batch(self.status.batch_limit, sending)
                    if not items:
                        break
                    sending.update(item.seq for item in items)
                    in_flight[asyncio.create_task(self._send(identity, items))] = items
                if not in_flight:
                    break
                finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    sending.difference_update(item.seq for item in in_flight.pop(task))
                    try:
                        handled += task.result()
                    except CentralError as err:
                        error = error or err
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
        if error is not None:
            raise error
        return handled

    async def _send(self, identity: Identity, items: list[OutboxItem]) -> int:
        """Send one batch and settle its rows; returns how many left the outbox."""
        body = batch_body(new_id(), identity, items)
        try:
            reply = await self.client.send_batch(identity, body)
        except CentralError as err:
            if err.status == 413 and len(items) == 1:
                log.error("event %s is too big for central (parked)", items[0].id)
                await self.events.park(items[0].seq, f"too big for central: {err}")
                return 1
            self._failed = True
            self.status.in_flight_limit = 1
            if _too_big(err):
                self.status.batch_limit = max(1, min(self.status.batch_limit, len(items) // 2))
            await self.events.note_failure([item.seq for item in items], str(err))
            raise
        if not self._failed:
            limit = self.status.batch_limit * 2
            self.status.batch_limit = min(self.settings.batch_size, limit)
            window = self.status.in_flight_limit * 2
            self.status.in_flight_limit = min(self.settings.max_in_flight, window)
        done = {str(i) for i in (*reply.accepted, *reply.duplicates)}
        seq_by_id = {item.id: item.seq for item in items}
        await self.events.mark_sent([seq for eid, seq in seq_by_id.items() if eid in done])
        for rejected in reply.rejected:
            if rejected.id in seq_by_id:
                log.error("central rejected event %s: %s (parked)", rejected.id, rejected.reason)
                await self.events.park(seq_by_id[rejected.id], rejected.reason)
        self.status.synced += len(done)
        self.status.last_success_at = datetime.now(UTC)
        return len(done) + len(reply.rejected)

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()


def _too_big(err: CentralError) -> bool:
    """Central timed out or refused the body as too large: a smaller batch may pass."""
    return isinstance(err, CentralTimeoutError) or err.status == 413
