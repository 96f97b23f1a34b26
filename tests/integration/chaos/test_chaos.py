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
        """Cut the appliance link; wait until central relayed all it has and the probe saw it."""
        await self.link.down()

        async def caught_up() -> bool:
            return await self.unpublished() == 0 and len(self.bus.ids()) == await self.relayed()

        await eventually(caught_up, 60)
        self.link.up()

    async def broker_outage(self) -> None:
        """Take the broker down once central holds OUTAGE_AT events; bring it back after
        central took in OUTAGE_GROWTH more."""
        await eventually(self._holds_at_least(OUTAGE_AT), 120)
        await self.bus.go_down(self.quiesce)
        down_at = await self.central_count()
        await eventually(self._holds_at_least(min(EVENTS, down_at + OUTAGE_GROWTH)), 120)
        assert await self.unpublished() > 0  # the broker really was away mid-stream
        await self.bus.come_back()

    def _holds_at_least(self, n: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await self.central_count() >= n

        return check

    async def all_arrived(self) -> bool:
        counts = await self.appliance.app[keys.EVENTS].counts()
        return (
            counts["pending"] == 0
            and await self.central_count() == counts["recorded"]
            and await self.unpublished() == 0
            and len(self.bus.ids()) >= await self.relayed()
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
        await eventually(stream.all_arrived, 180)
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
