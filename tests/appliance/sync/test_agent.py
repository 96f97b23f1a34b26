"""The sync agent against a peer with a small body limit: adaptive batches, parking."""

from __future__ import annotations

import contextlib

from appliance.errors import CentralError
from appliance.store import Database, EventStore
from appliance.sync.agent import SyncAgent
from appliance.sync.identity import Identity
from appliance.sync.signing import RequestSigner
from contracts import EventType, FarmEvent, FarmEventKind, Severity
from tests.appliance.sync.conftest import SmallCentral


def farm_event(summary: str) -> FarmEvent:
    return FarmEvent(kind=FarmEventKind.ESCAPE, severity=Severity.WARNING, summary=summary)


async def drain(agent: SyncAgent, identity: Identity, rounds: int) -> None:
    """Call the agent until the outbox is empty, as its loop would (failures are retried)."""
    for _ in range(rounds):
        with contextlib.suppress(CentralError):
            if await agent.sync_once(identity) == 0:
                return


async def test_batch_halves_on_413_and_everything_arrives_once(
    store: tuple[Database, EventStore],
    small_central: SmallCentral,
    agent_for: tuple[SyncAgent, Identity],
) -> None:
    _, events = store
    agent, identity = agent_for
    recorded = [
        (await events.record(EventType.FARM_EVENT, farm_event(f"#{n}"), correlation_id="c")).id
        for n in range(12)
    ]

    await drain(agent, identity, 20)

    assert small_central.batch_sizes[:3] == [12, 6, 3]
    assert sorted(small_central.stored) == sorted(str(i) for i in recorded)
    assert (await events.counts())["sent"] == 12


async def test_batch_grows_back_after_success_up_to_batch_size(
    agent_for: tuple[SyncAgent, Identity], store: tuple[Database, EventStore]
) -> None:
    _, events = store
    agent, identity = agent_for
    agent.status.batch_limit = 2
    for n in range(4):
        await events.record(EventType.FARM_EVENT, farm_event(f"#{n}"), correlation_id="c")

    await drain(agent, identity, 10)

    assert agent.status.batch_limit == 8


async def test_single_event_still_too_big_is_parked_and_the_rest_arrive(
    store: tuple[Database, EventStore],
    small_central: SmallCentral,
    agent_for: tuple[SyncAgent, Identity],
) -> None:
    _, events = store
    agent, identity = agent_for
    small = await events.record(EventType.FARM_EVENT, farm_event("small"), correlation_id="c")
    await events.record(EventType.FARM_EVENT, farm_event("huge"), correlation_id="c")
    after = await events.record(EventType.FARM_EVENT, farm_event("after"), correlation_id="c")

    await drain(agent, identity, 20)

    parked = await events.parked()
    assert [(e.payload["summary"], "too big" in reason) for e, reason in parked] == [("huge", True)]
    assert sorted(small_central.stored) == sorted([str(small.id), str(after.id)])


def test_signer_timestamps_strictly_increase(agent_for: tuple[SyncAgent, Identity]) -> None:
    _, identity = agent_for
    signer = RequestSigner()
    stamps = [
        int(signer.headers(identity, "GET", "http://x/api", b"")["X-Byre-Timestamp"])
        for _ in range(50)
    ]
    assert stamps == sorted(set(stamps))


async def test_batches_overlap_and_every_event_arrives_once_in_seq_order(
    store: tuple[Database, EventStore],
    small_central: SmallCentral,
    agent_for: tuple[SyncAgent, Identity],
) -> None:
    _, events = store
    agent, identity = agent_for
    small_central.max_events = 16
    small_central.delay_s = 0.2  # long enough for the agent to fill its window
    recorded = [
        (await events.record(EventType.FARM_EVENT, farm_event(f"#{n}"), correlation_id="c")).id
        for n in range(120)
    ]

    await drain(agent, identity, 5)

    assert small_central.most_in_flight == agent.settings.max_in_flight == 4
    assert sorted(small_central.stored) == sorted(str(i) for i in recorded)
    assert all(seqs == sorted(seqs) for seqs in small_central.batch_seqs)
    assert [s for seqs in small_central.batch_seqs for s in seqs] == list(range(1, 121))
    assert (await events.counts())["sent"] == 120


async def test_a_failed_batch_among_several_is_sent_again_and_nothing_twice(
    store: tuple[Database, EventStore],
    small_central: SmallCentral,
    agent_for: tuple[SyncAgent, Identity],
) -> None:
    db, events = store
    agent, identity = agent_for
    small_central.max_events = 16
    small_central.delay_s = 0.02
    small_central.fail = {3}  # two batches are in flight by then
    recorded = [
        (await events.record(EventType.FARM_EVENT, farm_event(f"#{n}"), correlation_id="c")).id
        for n in range(100)
    ]

    await drain(agent, identity, 10)

    failed = small_central.batch_seqs[2]
    assert sorted(small_central.stored) == sorted(str(i) for i in recorded)  # each once
    assert (await events.counts())["sent"] == 100
    retried = await db.fetch_all(
        f"SELECT seq FROM outbox WHERE attempts = 1 AND seq IN ({','.join('?' * len(failed))})",
        tuple(failed),
    )
    assert len(retried) == len(failed) == 16
    assert agent.status.in_flight_limit == 4  # grew back after the failure
