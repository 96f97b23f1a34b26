"""Clips and snapshots across a restart (a new app on the same database file).

A kill is simulated by dropping the first recorder without closing it: whatever it had not
written stays as the kill would leave it. The restarted media context (real SQLite store,
real recorder loop, real H.264 encoding) must give every row a final state and record the
first event after the restart of an incident that is still open, exactly once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import av

from appliance.camera.frames import Frame
from appliance.incidents.engine import IncidentEngine
from appliance.incidents.settings import IncidentSettings
from appliance.media.buffer import CameraBuffer
from appliance.media.context import Media, media_context
from appliance.media.recorder import MediaRecorder
from appliance.media.store import CUT_OFF, MediaRow, MediaStore
from appliance.store import Database, EventStore
from contracts import EventType, MediaKind, new_id
from tests.appliance.media.conftest import (
    farm_event,
    make_media_settings,
    read_image,
    scene_frame,
    shows_animal,
    wait_until,
)

CORRELATION = "cam1:escape:pen:1"
SETTINGS = make_media_settings()  # pre 1.5 s, post 1.0 s, 5 fps
QUIET_ENGINE = IncidentSettings(update_interval_s=600)
"""Repeats are not published as `incident.updated` (the last update was just before the kill)."""


@contextlib.asynccontextmanager
async def appliance_store(path: Path) -> AsyncIterator[EventStore]:
    db = Database(path)
    await db.open()
    try:
        yield EventStore(db)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def restarted(tmp_path: Path) -> AsyncIterator[tuple[EventStore, IncidentEngine, Media]]:
    """A new start on the same data directory: store, incident engine, media context."""
    async with (
        appliance_store(tmp_path / "appliance.db") as events,
        media_context(SETTINGS, events, tmp_path) as media,
    ):
        yield events, IncidentEngine(events, QUIET_ENGINE), media


def feed(buffer: CameraBuffer, t0: float, start_s: float, end_s: float) -> None:
    """Frames at 5 fps from t0 + start_s up to (not including) t0 + end_s; the animal shows."""
    for k in range(round((end_s - start_s) * 5)):
        t = round(start_s + k * 0.2, 6)
        number = 100 + round(t * 5)
        buffer.on_frame(Frame(scene_frame(number), number, t0 + t, 1000.0 + t))


async def repeat(events: EventStore, engine: IncidentEngine, at: float) -> None:
    await events.record(
        EventType.FARM_EVENT,
        farm_event(),
        correlation_id=CORRELATION,
        occurred_at=datetime.fromtimestamp(at, UTC),
    )
    await engine.catch_up()


async def media_of(store: MediaStore, kind: MediaKind) -> list[MediaRow]:
    incident = await store.db.fetch_one("SELECT id FROM incidents")
    assert incident is not None
    rows = await store.for_incident(UUID(incident["id"]))
    return sorted((r for r in rows if r.kind is kind), key=lambda r: r.created_at)


async def record_until_killed(tmp_path: Path, t0: float, *, snapshot_cut_off: bool) -> None:
    """Open the incident at t0; its clip is recording when the process dies.

    With `snapshot_cut_off` the incident's snapshot was being written at the kill (its row
    and partial file); otherwise the snapshot was complete before it."""
    async with appliance_store(tmp_path / "appliance.db") as events:
        engine = IncidentEngine(events, QUIET_ENGINE)
        store = MediaStore(events)
        recorder = MediaRecorder(SETTINGS, events, store, tmp_path / "media")
        buffer = recorder.camera("cam1")
        feed(buffer, t0, -3.0, 0.2)
        await repeat(events, engine, t0)
        (opened,) = await events.list_events(types=[EventType.INCIDENT_OPENED])
        if snapshot_cut_off:
            path = tmp_path / "media" / "cut.jpg"
            incident_id = UUID(opened.payload["incident_id"])
            await store.begin(
                new_id(),
                incident_id,
                "cam1",
                MediaKind.SNAPSHOT,
                "image/jpeg",
                path,
                opened.occurred_at,
            )
            path.parent.mkdir(parents=True)
            path.with_name("cut.jpg.part").write_bytes(b"\xff\xd8 half a JPEG")
        await recorder.on_event(opened)  # the clip (a snapshot only if none is being written)
        if not snapshot_cut_off:

            async def snapshot_ready() -> bool:
                return [r.state for r in await media_of(store, MediaKind.SNAPSHOT)] == ["ready"]

            await wait_until(snapshot_ready)
        feed(buffer, t0, 0.2, 0.6)
        assert recorder.recordings  # SIGKILL: the clip is never finished


def clip_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_a_clip_cut_off_by_a_kill_fails_and_the_first_repeat_after_the_restart_is_recorded(
    tmp_path: Path,
) -> None:
    t0 = time.time() - 30  # the kill came ~30 s ago
    await record_until_killed(tmp_path, t0, snapshot_cut_off=False)

    async with restarted(tmp_path) as (events, engine, media):
        (old_clip,) = await media_of(media.store, MediaKind.CLIP)
        assert (old_clip.state, old_clip.error) == ("failed", CUT_OFF)
        assert media.recorder is not None
        buffer = media.recorder.camera("cam1")
        feed(buffer, t0, 10.1, 14.1)
        await repeat(events, engine, t0 + 12.0)  # the cow is still out
        assert await events.list_events(types=[EventType.INCIDENT_UPDATED]) == []

        async def new_clip_ready() -> bool:
            clips = await media_of(media.store, MediaKind.CLIP)
            return len(clips) == 2 and clips[1].state == "ready"

        await wait_until(new_clip_ready)
        _, clip = await media_of(media.store, MediaKind.CLIP)
        assert abs(clip.started_at.timestamp() - (t0 + 12.0 - SETTINGS.pre_s)) < 1e-3
        assert clip.ended_at is not None
        assert clip.ended_at.timestamp() >= t0 + 12.0 + SETTINGS.post_s - 1e-3
        assert clip_frames(clip.path) >= (SETTINGS.pre_s + SETTINGS.post_s) * SETTINGS.fps
        (snapshot,) = await media_of(media.store, MediaKind.SNAPSHOT)  # the one before the kill
        assert snapshot.state == "ready"
        ready = await events.list_events(types=[EventType.MEDIA_READY])
        assert str(clip.media_id) in {e.payload["media_id"] for e in ready}

    # a second restart with no new event records nothing again, though frames flow
    async with restarted(tmp_path) as (events, engine, media):
        assert media.recorder is not None
        before = await media.store.db.fetch_all("SELECT media_id, state FROM media")
        feed(media.recorder.camera("cam1"), t0, 20.1, 24.1)
        await media.recorder.follow_carried()
        assert media.recorder.recordings == {}
        after = await media.store.db.fetch_all("SELECT media_id, state FROM media")
        assert [tuple(r) for r in after] == [tuple(r) for r in before]
        # the next event is recorded, once
        await repeat(events, engine, t0 + 22.0)

        async def third_clip_ready() -> bool:
            clips = await media_of(media.store, MediaKind.CLIP)
            return len(clips) == 3 and clips[2].state == "ready"

        await wait_until(third_clip_ready)
        await media.recorder.follow_carried()
        assert media.recorder.recordings == {}
    assert len(await _clips_at_rest(tmp_path)) == 3


async def _clips_at_rest(tmp_path: Path) -> list[tuple[str, str]]:
    async with appliance_store(tmp_path / "appliance.db") as events:
        rows = await events.db.fetch_all("SELECT media_id, state FROM media WHERE kind = 'clip'")
        assert "recording" not in {r["state"] for r in rows}
        return [(r["media_id"], r["state"]) for r in rows]


async def test_a_snapshot_cut_off_by_a_kill_is_taken_again_at_the_first_repeat(
    tmp_path: Path,
) -> None:
    t0 = time.time() - 30
    await record_until_killed(tmp_path, t0, snapshot_cut_off=True)
    assert (tmp_path / "media" / "cut.jpg.part").exists()

    async with restarted(tmp_path) as (events, engine, media):
        (cut,) = await media_of(media.store, MediaKind.SNAPSHOT)
        assert (cut.state, cut.error) == ("failed", CUT_OFF)
        assert not (tmp_path / "media" / "cut.jpg.part").exists()
        assert media.recorder is not None
        feed(media.recorder.camera("cam1"), t0, 10.1, 14.1)
        await repeat(events, engine, t0 + 12.1)

        async def snapshot_ready() -> bool:
            shots = await media_of(media.store, MediaKind.SNAPSHOT)
            return len(shots) == 2 and shots[1].state == "ready"

        await wait_until(snapshot_ready)
        _, snapshot = await media_of(media.store, MediaKind.SNAPSHOT)
        assert abs(snapshot.started_at.timestamp() - (t0 + 12.1)) < 1e-3  # the repeat's frame
        assert shows_animal(read_image(snapshot.path))

        async def clips_final() -> bool:
            clips = await media_of(media.store, MediaKind.CLIP)
            return [c.state for c in clips] == ["failed", "ready"]

        await wait_until(clips_final)
