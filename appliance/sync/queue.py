"""Which pending events go in the next batch: by priority, never starving the oldest."""

from __future__ import annotations

from appliance.store.events import EventStore, OutboxRow

# Incidents first, then telemetry, then everything else; seq order within each class.
PRIORITIES = ("incident.", "telemetry.")


def priority(event_type: str) -> int:
    for rank, prefix in enumerate(PRIORITIES):
        if event_type.startswith(prefix):
            return rank
    return len(PRIORITIES)


async def next_batch(events: EventStore, limit: int) -> list[OutboxRow]:
    """Up to `limit` pending rows, ordered by (priority, seq).

    A tenth of each batch (at least one row) goes to the oldest pending events whatever
    their type, so a steady stream of urgent events can delay the rest but never stall it.
    """
    chosen: dict[int, OutboxRow] = {}

    def take(rows: list[OutboxRow]) -> None:
        for row in rows:
            if len(chosen) >= limit:
                return
            chosen.setdefault(row.event.seq, row)

    take(await events.pending(max(1, limit // 10)))
    for prefix in PRIORITIES:
        if len(chosen) < limit:
            take(await events.pending(limit, type_prefix=prefix))
    if len(chosen) < limit:
        take(await events.pending(limit, exclude=PRIORITIES))
    return sorted(chosen.values(), key=lambda r: (priority(r.event.type.value), r.event.seq))
