"""Chaos: 20,000 events from an appliance through a faulty link and a broker outage, per bus.

appliance -> chaos proxy (blackhole, refuse, reset, delay, pass) -> central -> bus, with the
broker going away mid-stream. Central must hold each event exactly once; a consumer that
deduplicates by event id must see each exactly once. Raw duplicates on the bus are allowed
(delivery is at least once) and are counted and printed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from appliance import keys
from appliance.settings import SyncSettings
from bench.chaos_proxy import FAULTS, ChaosProxy, FaultRates
from bench.sync import enrol, record_telemetry
from contracts.topics import bus_topic
from sync_server.bus.outbox import count_unpublished
from sync_server.bus.relay import Relay
from sync_server.models import BusOutboxRecord, EventRecord
from sync_server.state import CentralState
from tests.conftest import ADMIN_TOKEN, MakeAppliance, RunningAppliance, eventually
from tests.integration.chaos.buses import BusUnderTest, open_bus
from tests.sync_server.bus.conftest import BusCentral, MakeBusCentral

pytestmark = pytest.mark.integration

EVENTS = 20_000
RECORD_BATCH = 500
OUTAGE_AT = 6_000
"""Central events stored when the broker goes down."""
OUTAGE_GROWTH = 3_000
"""Events central must take in while the broker is down before it comes back."""
SETTLE_S = 1.0
"""Time for a stray duplicate to show up before counting."""

CHAOS = FaultRates(
    blackhole=0.05,
    refuse=0.15,
    reset=0.2,
    delay=0.15,
    max_each=25,
    delay_max_s=0.05,
    reset_within_bytes=48 * 1024,
    lifetime_s=1.0,
    opening=FAULTS,  # each fault at least once, however few connections the run makes
)
SYNC = SyncSettings(
    batch_size=500, idle_interval_s=0.2, retry_min_s=0.05, retry_max_s=0.5, request_timeout_s=2
)


@dataclass(frozen=True)
class Progress:
    pending: int
    """Appliance events not yet accepted by central."""
    recorded: int
    central: int
    unpublished: int
    """Central's bus outbox rows the relay has not published."""
    relayed: int
    bus_distinct: int
    """Distinct event ids the probes received."""

    def short_of(self) -> list[str]:
        """The parts of "all arrived" that do not hold yet."""
        parts = {
            f"appliance pending {self.pending} != 0": self.pending != 0,
            f"central {self.central} != recorded {self.recorded}": self.central != self.recorded,
            f"central unpublished {self.unpublished} != 0": self.unpublished != 0,
            f"bus distinct {self.bus_distinct} < relayed {self.relayed}": (
                self.bus_distinct < self.relayed
            ),
        }
        return [part for part, short in parts.items() if short]


class Stream:
    """The run's moving parts and what the test reads from them."""

    def __init__(
        self, appliance: RunningAppliance, link: ChaosProxy, central: BusCentral, bus: BusUnderTest
    ) -> None:
        self.appliance = appliance
        self.link = link
        self.central = central
        self.bus = bus
        self.appliance_id = ""
        self.marks: dict[str, datetime] = {}
        """When the outage's steps happened (UTC), for the failure report."""

    def sessions(self) -> AsyncSession:
        state: CentralState = self.central.app.state.central
        return state.sessions()

    async def enrol(self) -> None:
        async with httpx.AsyncClient() as client:
            code = await client.post(
                f"{self.central.url}/api/v1/enrolment-codes",
                json={"farm_id": f"farm-{uuid.uuid4().hex[:8]}"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        assert code.status_code == 201, code.text
        self.appliance_id = await enrol(self.appliance.app, self.link.url, code.json()["code"])

    async def central_rows(self) -> list[tuple[str, int]]:
        """(event id, seq) of every row of this appliance's events in central's database."""
        query = select(EventRecord.id, EventRecord.seq).where(
            col(EventRecord.appliance_id) == self.appliance_id
        )
        async with self.sessions() as session:
            return [(str(i), seq) for i, seq in (await session.exec(query)).all()]

    async def central_count(self) -> int:
        query = select(func.count()).where(col(EventRecord.appliance_id) == self.appliance_id)
        async with self.sessions() as session:
            return (await session.exec(query)).one()

    async def unpublished(self) -> int:
        async with self.sessions() as session:
            return await count_unpublished(session)

    async def relayed(self) -> int:
        """Central's bus outbox rows, published or not: one per event that goes on the bus."""
        async with self.sessions() as session:
            return (await session.exec(select(func.count()).select_from(BusOutboxRecord))).one()

    async def quiesce(self) -> None:
        """Cut the appliance link; wait until central relayed all it has and the probe saw it.

        The link stays down until the broker is gone (`broker_outage`): an event reaching
        central before that would go to the old broker and be lost with its memory.
        """
        await self.link.down()
        self.marks["link down"] = datetime.now(UTC)

        async def caught_up() -> bool:
            # a push central read before the cut is still stored: wait for its request too
            requests = self.central.server.server_state.tasks
            return (
                not requests
                and await self.unpublished() == 0
                and len(self.bus.ids()) == await self.relayed()
            )

        await eventually(caught_up, 60)
        self.marks["probe caught up"] = datetime.now(UTC)

    async def broker_outage(self) -> None:
        """Take the broker down once central holds OUTAGE_AT events; bring it back after
        central took in OUTAGE_GROWTH more."""
        await eventually(self._holds_at_least(OUTAGE_AT), 120)
        await self.bus.go_down(self.quiesce)
        self.marks["broker down"] = datetime.now(UTC)
        failures = self.relay_failures()
        self.link.up()
        down_at = await self.central_count()
        await eventually(self._holds_at_least(min(EVENTS, down_at + OUTAGE_GROWTH)), 120)
        assert await self.unpublished() > 0  # the broker really was away mid-stream
        if self.bus.forgets:
            # A broker that lost everything acks, and never serves, what a producer still
            # holding the old broker's metadata sends; a failed batch drops that producer.
            await eventually(self._relay_failed_since(failures), 60)
            self.marks["relay noticed"] = datetime.now(UTC)
        await self.bus.come_back()
        self.marks["broker back"] = datetime.now(UTC)

    def relay(self) -> Relay:
        relay = self.central.bridge.relay
        assert relay is not None
        return relay

    def relay_failures(self) -> int:
        return self.relay().backoff.failures

    def _relay_failed_since(self, failures: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return self.relay_failures() > failures

        return check

    def _holds_at_least(self, n: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await self.central_count() >= n

        return check

    async def progress(self) -> Progress:
        counts = await self.appliance.app[keys.EVENTS].counts()
        return Progress(
            pending=counts["pending"],
            recorded=counts["recorded"],
            central=await self.central_count(),
            unpublished=await self.unpublished(),
            relayed=await self.relayed(),
            bus_distinct=len(self.bus.ids()),
        )

    async def all_arrived(self) -> bool:
        return not (await self.progress()).short_of()

    async def wait_all_arrived(self, seconds: float) -> None:
        """`all_arrived` within `seconds`; otherwise fail saying which part did not hold."""
        try:
            await eventually(self.all_arrived, seconds)
        except AssertionError:
            progress = await self.progress()
            raise AssertionError(
                f"not all arrived within {seconds} s: {'; '.join(progress.short_of())} "
                f"({progress}); {await self.missing_on_bus()}; relay failures "
                f"{self.relay_failures()}, last: {self.relay().backoff.last_error}"
            ) from None

    async def missing_on_bus(self) -> str:
        """Which relayed rows the probes never saw, and when central marked them published."""
        seen = self.bus.ids()
        query = select(BusOutboxRecord.event_id, BusOutboxRecord.published_at)
        async with self.sessions() as session:
            rows = (await session.exec(query)).all()
        missing = sorted(at for i, at in rows if str(i) not in seen and at is not None)
        if not missing:
            return "the probes saw every published row"
        marks = ", ".join(f"{step} {at:%H:%M:%S.%f}" for step, at in self.marks.items())
        return (
            f"{len(missing)} published rows never seen by a probe, published "
            f"{missing[0]:%H:%M:%S.%f}..{missing[-1]:%H:%M:%S.%f} (outage: {marks})"
        )


@pytest.fixture(params=["kafka", "rabbitmq", "nats"])
async def bus(request: pytest.FixtureRequest, tmp_path: Path):
    bus = await open_bus(request.param, uuid.uuid4().hex[:10], tmp_path)
    try:
        yield bus
    finally:
        await bus.close()


@pytest.mark.timeout(600)  # a few minutes on a loaded 2-core machine
@pytest.mark.parametrize("rates", [CHAOS], ids=["chaos"])
# aiormq 7.2.4: when the proxy resets a connection, its reader's done-callback starts a task
# that closes the connection; one reset just before the test's loop ends leaves that close
# coroutine never awaited (a library shutdown race, not a lost message: the test's own
# assertions had passed when it was reported, CI 2026-11-30)
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <coroutine object Connection.close:"
    "pytest.PytestUnraisableExceptionWarning"
)
async def test_every_event_lands_once_in_central_and_once_per_id_on_the_bus(
    bus: BusUnderTest,
    rates: FaultRates,
    make_appliance: MakeAppliance,
    make_bus_central: MakeBusCentral,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    central = await make_bus_central(
        f"sqlite+aiosqlite:///{tmp_path / 'central.db'}", bus.settings()
    )
    link = await ChaosProxy(int(central.url.rsplit(":", 1)[1]), seed=20261130).start()
    try:
        appliance = await make_appliance(sync=SYNC)
        stream = Stream(appliance, link, central, bus)
        await stream.enrol()
        link.rates = rates

        recorded, _ = await asyncio.gather(
            record_telemetry(appliance.app[keys.EVENTS], EVENTS, RECORD_BATCH),
            stream.broker_outage(),
        )
        await stream.wait_all_arrived(180)
        await asyncio.sleep(SETTLE_S)

        rows = await stream.central_rows()
        stored = await appliance.app[keys.EVENTS].list_events(limit=10 * EVENTS)
        counts = await appliance.app[keys.EVENTS].counts()
    finally:
        await link.stop()

    raw = bus.received()
    with capsys.disabled():
        print(  # noqa: T201
            f"\nCHAOS bus={bus.kind} events={len(stored)} central_rows={len(rows)} "
            f"bus_raw={len(raw)} bus_distinct={len(bus.ids())} "
            f"bus_duplicates={len(raw) - len(bus.ids())} link={dict(link.counts)}"
        )
    # The appliance may record a few events of its own besides ours; all must arrive.
    assert {e.id for e in recorded} <= {e.id for e in stored}
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert len(rows) == len(stored)
    assert set(rows) == {(str(e.id), e.seq) for e in stored}
    assert bus.ids() == {str(e.id) for e in stored if bus_topic(e.type) is not None}
    assert counts == {"pending": 0, "sent": len(stored), "parked": 0, "recorded": len(stored)}
    assert {f: link.counts[f] > 0 for f in FAULTS} == dict.fromkeys(FAULTS, True)
