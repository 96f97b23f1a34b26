"""The sync agent: drains the outbox to central, resuming where it stopped.

Batches are picked by priority (see `queue`), gzip-compressed and signed by the client.
The batch size adapts: it halves when central times out or answers 413 and doubles back
towards `batch_size` on success; a single event central still calls too big (413) is parked
(a timeout alone never parks anything: the link may just be down).
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
from appliance.store.events import EventStore, OutboxRow
from appliance.sync.client import CentralClient
from appliance.sync.errors import CentralTimeoutError
from appliance.sync.identity import Identity, IdentityStore
from appliance.sync.queue import next_batch
from contracts import EventEnvelope, SyncBatchRequest, new_id

log = logging.getLogger(__name__)


@dataclass
class SyncStatus:
    last_success_at: datetime | None = None
    last_error: str | None = None
    synced: int = 0
    batch_limit: int = 0
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

    async def run(self) -> None:
        """Loop forever: wait for work, send a batch, back off with jitter on failure."""
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
        """Send one batch of pending events; returns how many left the outbox."""
        rows = await next_batch(self.events, self.status.batch_limit)
        if not rows:
            return 0
        batch = SyncBatchRequest(
            batch_id=new_id(),
            appliance_id=identity.appliance_id,
            events=[_envelope(row, identity).model_dump(mode="json") for row in rows],
        )
        try:
            reply = await self.client.send_batch(identity, batch)
        except CentralError as err:
            if err.status == 413 and len(rows) == 1:
                log.error("event %s is too big for central (parked)", rows[0].event.id)
                await self.events.park(rows[0].event.seq, f"too big for central: {err}")
                return 1
            await self.events.note_failure([r.event.seq for r in rows], str(err))
            if _too_big(err):
                self.status.batch_limit = max(1, len(rows) // 2)
            raise
        self.status.batch_limit = min(self.settings.batch_size, self.status.batch_limit * 2)
        done = {str(i) for i in (*reply.accepted, *reply.duplicates)}
        seq_by_id = {str(r.event.id): r.event.seq for r in rows}
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


def _envelope(row: OutboxRow, identity: Identity) -> EventEnvelope:
    e = row.event
    return EventEnvelope(
        id=e.id,
        type=e.type,
        farm_id=identity.farm_id,
        appliance_id=identity.appliance_id,
        correlation_id=e.correlation_id,
        seq=e.seq,
        occurred_at=e.occurred_at,
        payload=e.payload,
    )
