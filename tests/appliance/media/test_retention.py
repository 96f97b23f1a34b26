"""Retention by age and by disk pressure: oldest first, events kept, live incidents untouched."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from appliance.incidents.engine import IncidentEngine
from appliance.media.retention import DiskUsage, Retention
from appliance.media.settings import RetentionSettings
from appliance.media.store import MediaStore
from appliance.store import EventStore
from contracts import MediaKind, new_id
from tests.appliance.media.conftest import open_incident, quick_incidents

GIB = 1024**3
PLENTY = DiskUsage(total=100 * GIB, free=50 * GIB)


@dataclass
class Stored:
    media_id: UUID
    path: Path
    incident: str


class Farm:
    """Incidents in each state, each with a 1000-byte file, oldest first."""

    def __init__(self, events: EventStore, media_dir: Path) -> None:
        self.events = events
        self.store = MediaStore(events)
        self.engine = IncidentEngine(events, quick_incidents())
        self.media_dir = media_dir
        self.files: dict[str, Stored] = {}

    async def add(self, name: str, state: str, created: datetime) -> Stored:
        incident_id: UUID | None = None
        if state != "none":
            opened = await open_incident(
                self.events, self.engine, correlation_id=f"cam1:escape:{name}:1"
            )
            incident_id = opened.incident.incident_id
            if state == "acknowledged":
                await self.engine.acknowledge(incident_id, "farmer")
            if state == "resolved":
                await self.engine.resolve(incident_id, "farmer", "back in the pen")
        media_id = new_id()
        path = self.media_dir / f"{name}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = name.encode().ljust(1000, b".")
        path.write_bytes(data)
        await self.store.begin(
            media_id, incident_id, "cam1", MediaKind.CLIP, "video/mp4", path, created
        )
        await self.store.complete(
            media_id,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            started_at=created,
            ended_at=created,
            correlation_id=f"cam1:escape:{name}:1",
        )
        async with self.events.db.transaction() as conn:  # back-date the file
            await conn.execute(
                "UPDATE media SET created_at = ? WHERE media_id = ?",
                (created.isoformat(), str(media_id)),
            )
        stored = Stored(media_id, path, name)
        self.files[name] = stored
        return stored

    async def state(self, name: str) -> str:
        row = await self.events.db.fetch_one(
            "SELECT state FROM media WHERE media_id = ?", (str(self.files[name].media_id),)
        )
        assert row is not None
        return str(row["state"])

    async def event_count(self) -> int:
        row = await self.events.db.fetch_one("SELECT COUNT(*) FROM events")
        assert row is not None
        return int(row[0])


NOW = datetime.now(UTC)


@pytest.fixture
async def farm(tmp_path: Path, events: EventStore) -> Farm:
    farm = Farm(events, tmp_path / "media")
    await farm.add("open-old", "open", NOW - timedelta(days=40))
    await farm.add("acked-old", "acknowledged", NOW - timedelta(days=39))
    await farm.add("resolved-old", "resolved", NOW - timedelta(days=38))
    await farm.add("loose-old", "none", NOW - timedelta(days=37))
    await farm.add("resolved-mid", "resolved", NOW - timedelta(days=5))
    await farm.add("resolved-new", "resolved", NOW - timedelta(days=1))
    return farm


def retention(farm: Farm, free: DiskUsage = PLENTY, **settings: object) -> Retention:
    values: dict[str, object] = {"max_age_days": 30.0} | settings
    return Retention(
        RetentionSettings.model_validate(values), farm.store, farm.media_dir, lambda _: free
    )


async def test_old_media_is_evicted_but_never_of_open_or_acknowledged_incidents(
    farm: Farm,
) -> None:
    events_before = await farm.event_count()
    report = await retention(farm).sweep(NOW)
    assert report.evicted_for_age == 2
    assert report.evicted_for_space == 0
    assert report.freed_bytes == 2000
    for name in ("resolved-old", "loose-old"):
        assert await farm.state(name) == "evicted"
        assert not farm.files[name].path.exists()
    for name in ("open-old", "acked-old", "resolved-mid", "resolved-new"):
        assert await farm.state(name) == "ready"
        assert farm.files[name].path.exists()
    assert await farm.event_count() == events_before  # events outlive their media


async def test_over_the_media_budget_the_oldest_evictable_go_first(farm: Farm) -> None:
    # 6000 bytes of files; 2000 of them belong to live incidents and must stay
    report = await retention(farm, max_age_days=365.0, max_media_bytes=3500).sweep(NOW)
    assert report.evicted_for_space == 3
    assert [await farm.state(n) for n in farm.files] == [
        "ready",  # open-old
        "ready",  # acked-old
        "evicted",  # resolved-old
        "evicted",  # loose-old
        "evicted",  # resolved-mid
        "ready",  # resolved-new: 3000 bytes left, under the budget
    ]


async def test_low_disk_evicts_all_it_may_and_stops_at_live_incidents(farm: Farm) -> None:
    full = DiskUsage(total=100 * GIB, free=GIB // 2)
    report = await retention(farm, full, max_age_days=365.0, min_free_bytes=GIB).sweep(NOW)
    assert report.evicted_for_space == 4
    assert await farm.state("open-old") == "ready"
    assert await farm.state("acked-old") == "ready"
    assert farm.files["open-old"].path.exists()


async def test_low_free_percent_counts_as_pressure(farm: Farm) -> None:
    tight = DiskUsage(total=100 * GIB, free=3 * GIB)
    report = await retention(
        farm, tight, max_age_days=365.0, min_free_bytes=0, min_free_percent=5.0
    ).sweep(NOW)
    assert report.evicted_for_space == 4


async def test_plenty_of_room_and_young_media_evict_nothing(farm: Farm) -> None:
    report = await retention(farm, max_age_days=365.0).sweep(NOW)
    assert report.evicted_for_age == report.evicted_for_space == 0


async def test_media_of_a_long_open_incident_stays_however_old(farm: Farm) -> None:
    stored = await farm.add("again", "open", NOW - timedelta(days=60))
    await retention(farm).sweep(NOW)
    assert await farm.state("again") == "ready"
    assert stored.path.exists()


async def test_files_left_by_a_stop_during_eviction_are_deleted_at_start(farm: Farm) -> None:
    # the row was marked evicted, then the appliance stopped before the file was deleted
    assert await farm.store.mark_evicted(farm.files["resolved-old"].media_id)
    assert farm.files["resolved-old"].path.exists()
    assert await retention(farm).remove_leftovers() == 1
    assert not farm.files["resolved-old"].path.exists()
    assert farm.files["resolved-new"].path.exists()
