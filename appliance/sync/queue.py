"""Which pending events go in the next batch: by priority, never starving the oldest."""

from __future__ import annotations

from collections.abc import Set

from appliance.store.events import EventStore, OutboxItem

# Incidents first, then telemetry, then everything else; seq order within each class.
PRIORITIES = ("incident.", "telemetry.")


def priority(event_type: str) -> int:
    for rank, prefix in enumerate(PRIORITIES):
        if event_type.startswith(prefix):
            return rank
    return len(PRIORITIES)


class BatchPicker:
    """Picks the batches of one sync round.

    Each kind of query (oldest, each priority class, the rest) remembers how far it has
    looked: every pending row of its kind up to there is already in a batch of this round,
    so the next query starts after it instead of scanning the whole backlog again. A round
    ends at its first failure, so a row of a failed batch is never passed over: the next
    round starts from the beginning.
    """

    def __init__(self, events: EventStore) -> None:
        self.events = events
        self._seen: dict[str, int] = {}

    async def next_batch(self, limit: int, skip: Set[int] = frozenset()) -> list[OutboxItem]:
        """Up to `limit` pending rows not in `skip` (batches in flight), by (priority, seq).

        A tenth of each batch (at least one row) goes to the oldest pending events whatever
        their type, so a steady stream of urgent events can delay the rest but never stall it.
        """
        chosen: dict[int, OutboxItem] = {}
        last = await self.events.last_seq()

        async def take(
            kind: str, want: int, prefix: str | None = None, exclude: tuple[str, ...] = ()
        ) -> None:
            after = self._seen.get(kind, 0)
            asked = want + len(chosen) + sum(1 for seq in skip if seq > after)
            rows = await self.events.outbox_items(
                asked, after_seq=after, type_prefix=prefix, exclude=exclude
            )
            for row in rows:
                if len(chosen) >= limit or want <= 0:
                    return
                if row.seq not in skip and row.seq not in chosen:
                    chosen[row.seq] = row
                    want -= 1
                self._seen[kind] = row.seq  # in a batch of this round now
            if len(rows) < asked:
                # Every pending row of this kind up to `last` was returned (newer ones may
                # have come since: they are looked at next time).
                self._seen[kind] = max(after, last)

        await take("oldest", max(1, limit // 10))
        for prefix in PRIORITIES:
            if len(chosen) < limit:
                await take(prefix, limit - len(chosen), prefix)
        if len(chosen) < limit:
            await take("rest", limit - len(chosen), exclude=PRIORITIES)
        return sorted(chosen.values(), key=lambda r: (priority(r.type), r.seq))


async def next_batch(
    events: EventStore, limit: int, skip: Set[int] = frozenset()
) -> list[OutboxItem]:
    """The first batch a new round would pick (see `BatchPicker.next_batch`)."""
    return await BatchPicker(events).next_batch(limit, skip)
