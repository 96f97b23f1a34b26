"""The incident engine's case logic on a real SQLite store, with a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.incidents.engine import IncidentEngine
from appliance.incidents.errors import IncidentClosed
from appliance.incidents.settings import IncidentSettings, KindPolicy
from appliance.store import Database, EventStore
from contracts import EventType, FarmEvent, FarmEventKind, Incident, IncidentState, Severity

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Farm:
    db: Database
    events: EventStore
    engine: IncidentEngine
    clock: Clock

    async def observe(
        self,
        correlation: str = "cam-1:intruder:gate",
        severity: Severity = Severity.WARNING,
        kind: FarmEventKind = FarmEventKind.INTRUDER,
    ) -> None:
        event = FarmEvent(kind=kind, severity=severity, summary=f"{kind.value} seen")
        await self.events.record(
            EventType.FARM_EVENT, event, correlation_id=correlation, occurred_at=self.clock.now
        )
        await self.engine.catch_up()

    async def incidents(self) -> list[Incident]:
        return await self.engine.list_incidents()

    async def published(self) -> list[str]:
        types = [t for t in EventType if t.value.startswith("incident.") and t.name != "FARM_EVENT"]
        return [e.type.value for e in await self.events.list_events(types=types, limit=1000)]


SETTINGS = IncidentSettings(
    cooldown_s=60,
    auto_resolve_after_s=30,
    escalate_after_s=120,
    max_escalation_level=2,
    update_interval_s=10,
    per_kind={FarmEventKind.ANIMAL_DOWN: KindPolicy(auto_resolve_after_s=600)},
)


async def make_farm(path: Path, clock: Clock | None = None) -> Farm:
    db = Database(path)
    await db.open()
    events = EventStore(db)
    clock = clock or Clock()
    return Farm(db, events, IncidentEngine(events, SETTINGS, clock), clock)


@pytest.fixture
async def farm(tmp_path: Path) -> AsyncIterator[Farm]:
    farm = await make_farm(tmp_path / "farm.db")
    yield farm
    await farm.db.close()


async def test_repeats_of_one_case_update_a_single_incident(farm: Farm) -> None:
    await farm.observe()
    farm.clock.advance(2)
    await farm.observe()
    farm.clock.advance(11)
    await farm.observe()

    [incident] = await farm.incidents()
    assert incident.occurrences == 3
    assert incident.state is IncidentState.OPEN
    assert await farm.published() == ["incident.opened", "incident.updated"]


async def test_different_correlation_ids_open_separate_incidents(farm: Farm) -> None:
    await farm.observe("cam-1:intruder:gate")
    await farm.observe("cam-2:intruder:gate")
    assert len(await farm.incidents()) == 2


async def test_severity_rise_is_published_at_once(farm: Farm) -> None:
    await farm.observe(severity=Severity.WARNING)
    await farm.observe(severity=Severity.CRITICAL)

    [incident] = await farm.incidents()
    assert incident.severity is Severity.CRITICAL
    assert await farm.published() == ["incident.opened", "incident.updated"]


async def test_incident_resolves_when_the_condition_clears(farm: Farm) -> None:
    await farm.observe()
    farm.clock.advance(29)
    await farm.engine.tick()
    assert (await farm.incidents())[0].state is IncidentState.OPEN

    farm.clock.advance(2)
    await farm.engine.tick()

    [incident] = await farm.incidents()
    assert incident.state is IncidentState.RESOLVED
    assert incident.note is not None
    assert incident.note.startswith("condition cleared")


async def test_per_kind_policy_overrides_auto_resolve(farm: Farm) -> None:
    await farm.observe("cam-1:down:pen", kind=FarmEventKind.ANIMAL_DOWN)
    farm.clock.advance(100)
    await farm.engine.tick()
    assert (await farm.incidents())[0].state is IncidentState.OPEN


async def test_cooldown_keeps_repeats_quiet_after_a_resolve(farm: Farm) -> None:
    await farm.observe()
    [incident] = await farm.incidents()
    await farm.engine.resolve(incident.incident_id, "farmer", "fox gone")

    farm.clock.advance(30)
    await farm.observe()
    assert len(await farm.incidents()) == 1
    assert farm.engine.suppressed == 1

    farm.clock.advance(31)
    await farm.observe()
    states = sorted(i.state.value for i in await farm.incidents())
    assert states == ["open", "resolved"]


async def test_unacknowledged_incident_escalates_step_by_step(farm: Farm) -> None:
    await farm.observe()
    levels = []
    for _ in range(4):
        farm.clock.advance(121)
        await farm.observe()  # keeps the condition alive
        await farm.engine.tick()
        levels.append((await farm.incidents())[0].escalation_level)

    assert levels == [1, 2, 2, 2]
    assert (await farm.published()).count("incident.escalated") == 2


async def test_acknowledged_incident_does_not_escalate(farm: Farm) -> None:
    await farm.observe()
    [incident] = await farm.incidents()
    acked = await farm.engine.acknowledge(incident.incident_id, "anna")
    farm.clock.advance(500)
    await farm.observe()
    await farm.engine.tick()

    [incident] = await farm.incidents()
    assert acked.state is IncidentState.ACKNOWLEDGED
    assert acked.acknowledged_by == "anna"
    assert incident.escalation_level == 0


async def test_acknowledge_is_idempotent_and_refused_once_resolved(farm: Farm) -> None:
    await farm.observe()
    [incident] = await farm.incidents()
    await farm.engine.acknowledge(incident.incident_id, "anna")
    await farm.engine.acknowledge(incident.incident_id, "anna")
    await farm.engine.resolve(incident.incident_id, "anna", "ok")

    with pytest.raises(IncidentClosed):
        await farm.engine.acknowledge(incident.incident_id, "anna")
    assert (await farm.published()).count("incident.acknowledged") == 1


async def test_state_and_cursor_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    farm = await make_farm(tmp_path / "farm.db", clock)
    await farm.observe()
    # recorded but not yet applied when the power goes
    event = FarmEvent(kind=FarmEventKind.INTRUDER, severity=Severity.CRITICAL, summary="again")
    await farm.events.record(EventType.FARM_EVENT, event, correlation_id="cam-1:intruder:gate")
    await farm.db.close()

    farm = await make_farm(tmp_path / "farm.db", clock)
    applied = await farm.engine.catch_up()
    again = await farm.engine.catch_up()
    [incident] = await farm.incidents()
    await farm.db.close()

    assert (applied, again) == (1, 0)
    assert incident.occurrences == 2
    assert incident.severity is Severity.CRITICAL


async def test_every_incident_change_is_in_the_outbox(farm: Farm) -> None:
    await farm.observe()
    [incident] = await farm.incidents()
    await farm.engine.acknowledge(incident.incident_id, "anna")
    await farm.engine.resolve(incident.incident_id, "anna", "done")

    pending = await farm.events.pending(100)
    assert [r.event.type.value for r in pending] == [
        "incident.event",
        "incident.opened",
        "incident.acknowledged",
        "incident.resolved",
    ]
    assert [r.event.seq for r in pending] == [1, 2, 3, 4]
