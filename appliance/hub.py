"""In-process event hub: contexts learn about committed events without reaching into
each other's tables. Subscribers get every event published after they subscribed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.store.events import StoredEvent

log = logging.getLogger(__name__)

QUEUE_LIMIT = 10_000


class Hub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[StoredEvent]] = set()
        self.dropped = 0

    def publish(self, event: StoredEvent) -> None:
        for queue in self._queues:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("hub subscriber is %d events behind; dropping", queue.qsize())

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[StoredEvent]]:
        """A queue of events committed from now on, for the lifetime of the block.

        The store stays the source of truth: a subscriber that must not miss anything
        reads the store from its own cursor and uses the hub only as a wake-up.
        """
        queue: asyncio.Queue[StoredEvent] = asyncio.Queue(QUEUE_LIMIT)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
