"""Which pending events the next batch carries."""

from __future__ import annotations

from appliance.store import Database, EventStore
from appliance.sync.queue import BatchPicker, next_batch
from contracts import EventType, FarmEvent, FarmEventKind, Severity, TelemetrySample

FARM = FarmEvent(kind=FarmEventKind.ESCAPE, severity=Severity.WARNING, summary="cow out")
SAMPLE = TelemetrySample(source_id="sensor-1", values={"temperature_c": 21.5})


async def record(events: EventStore, kinds: list[str]) -> None:
    for n, kind in enumerate(kinds):
        event_type, payload = {
            "incident": (EventType.FARM_EVENT, FARM),
            "telemetry": (EventType.TELEMETRY_DEVICE, SAMPLE),
            "command": (EventType.COMMAND_SENT, FARM),  # the store does not look at payloads
        }[kind]
        await events.record(event_type, payload, correlation_id=f"c{n}")


async def test_incidents_go_before_telemetry_before_the_rest_in_seq_order(
    store: tuple[Database, EventStore],
) -> None:
    _, events = store
    await record(events, ["command", "telemetry", "incident", "command", "telemetry", "incident"])

    rows = await next_batch(events, 10)

    assert [r.seq for r in rows] == [3, 6, 2, 5, 1, 4]


async def test_oldest_event_keeps_a_slot_when_urgent_events_fill_the_batch(
    store: tuple[Database, EventStore],
) -> None:
    _, events = store
    await record(events, ["command", "telemetry", *["incident"] * 30])

    rows = await next_batch(events, 10)

    seqs = [r.seq for r in rows]
    assert len(seqs) == 10
    assert 1 in seqs
    assert 2 not in seqs
    assert seqs[:9] == list(range(3, 12))


async def test_parked_and_sent_events_are_not_picked(store: tuple[Database, EventStore]) -> None:
    _, events = store
    await record(events, ["incident", "incident", "telemetry"])
    await events.park(1, "refused")
    await events.mark_sent([2])

    assert [r.seq for r in await next_batch(events, 10)] == [3]


async def test_a_round_picks_each_row_once_and_a_new_incident_jumps_the_queue(
    store: tuple[Database, EventStore],
) -> None:
    _, events = store
    await record(events, ["telemetry", "command"] * 15)
    picker = BatchPicker(events)
    in_flight: set[int] = set()

    first = await picker.next_batch(10, in_flight)
    in_flight |= {r.seq for r in first}
    await record(events, ["incident"])  # seq 31, while the first batch is out
    second = await picker.next_batch(10, in_flight)
    in_flight |= {r.seq for r in second}
    rest = []
    for _ in range(3):
        rest.append(await picker.next_batch(10, in_flight))
        in_flight |= {r.seq for r in rest[-1]}

    assert second[0].seq == 31
    picked = [r.seq for batch in [first, second, *rest] for r in batch]
    assert sorted(picked) == list(range(1, 32))  # each exactly once
    assert rest[-1] == []
