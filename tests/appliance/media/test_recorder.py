"""Recorder timing: post-roll after the latest event, the clip cap, shutdown, no frames."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import av

from appliance.camera.frames import Frame
from appliance.incidents.engine import IncidentEngine
from appliance.incidents.settings import IncidentSettings
from appliance.media.buffer import CameraBuffer
from appliance.media.recorder import MediaRecorder
from appliance.media.store import MediaRow, MediaStore
from appliance.store import EventStore
from contracts import EventType, MediaKind
from tests.appliance.media.conftest import farm_event, make_media_settings, scene_frame

CORRELATION = "cam1:escape:pen:1"


class Scene:
    """Frames handed to the recorder's tap by hand, stamped around a real `t0`."""

    def __init__(
        self, tmp_path: Path, events: EventStore, update_interval_s: float = 0, **settings: float
    ) -> None:
        self.events = events
        self.settings = make_media_settings(**settings)
        self.store = MediaStore(events)
        self.recorder = MediaRecorder(self.settings, events, self.store, tmp_path / "media")
        self.buffer: CameraBuffer = self.recorder.camera("cam1")
        # by default every repeat is published as `incident.updated`
        incidents = IncidentSettings(update_interval_s=update_interval_s)
        self.engine = IncidentEngine(events, incidents)
        self.t0 = time.time()
        self.number = 0
        self.seen = 0

    def feed(self, start_s: float, end_s: float) -> None:
        """Frames at the recording rate from t0 + start_s up to (not including) t0 + end_s."""
        step = 1 / self.settings.fps
        for k in range(round((end_s - start_s) / step)):
            t = round(start_s + k * step, 6)  # exact multiples: no drift at the edges
            self.number += 1
            frame = Frame(scene_frame(self.number), self.number, self.t0 + t, 1000.0 + t)
            self.buffer.on_frame(frame)

    async def event(self, at_s: float) -> None:
        """A farm event seen at t0 + at_s; the recorder hears of the incident change."""
        await self.events.record(
            EventType.FARM_EVENT,
            farm_event(),
            correlation_id=CORRELATION,
            occurred_at=datetime.fromtimestamp(self.t0 + at_s, UTC),
        )
        await self.engine.catch_up()
        changes = await self.events.list_events(
            after_seq=self.seen, types=[EventType.INCIDENT_OPENED, EventType.INCIDENT_UPDATED]
        )
        for change in changes:
            await self.recorder.on_event(change)
            self.seen = max(self.seen, change.seq)

    async def clips(self) -> list[MediaRow]:
        incident = (await self.engine.list_incidents())[0]
        rows = await self.store.for_incident(incident.incident_id)
        return [r for r in rows if r.kind is MediaKind.CLIP]


def clip_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.time or 0.0) for f in container.decode(video=0)]


async def test_each_update_moves_the_end_to_post_roll_after_the_latest_event(
    tmp_path: Path, events: EventStore
) -> None:
    scene = Scene(tmp_path, events, pre_s=1.0, post_s=1.0)
    scene.feed(-3.0, 0.2)
    await scene.event(0.0)
    scene.feed(0.2, 1.6)
    await scene.event(1.4)  # repeated: the clip must now run to 2.4
    await scene.recorder.finish_due(scene.t0 + 1.6)
    assert scene.recorder.recordings  # the first event's end (1.0) passed, the clip goes on
    scene.feed(1.6, 2.6)
    await scene.recorder.finish_due(time.time())
    await scene.recorder.close()
    (clip,) = await scene.clips()
    assert clip.state == "ready"
    assert abs(clip.started_at.timestamp() - (scene.t0 - 1.0)) < 1e-3
    assert clip.ended_at is not None
    assert clip.ended_at.timestamp() >= scene.t0 + 2.4 - 1e-3
    times = clip_times(clip.path)
    assert times[0] == 0.0
    assert times[-1] >= 3.4 - 1e-3


async def test_repeats_between_published_updates_still_extend_the_clip(
    tmp_path: Path, events: EventStore
) -> None:
    scene = Scene(tmp_path, events, update_interval_s=60, pre_s=1.0, post_s=1.0)
    scene.feed(-2.0, 0.2)
    await scene.event(0.0)
    scene.feed(0.2, 1.0)
    await scene.event(0.8)  # a repeat the engine does not publish (update interval)
    assert len(await events.list_events(types=[EventType.INCIDENT_UPDATED])) == 0
    scene.feed(1.0, 1.2)
    await scene.recorder.finish_due(scene.t0 + 1.2)
    assert scene.recorder.recordings  # the clip now ends at 1.8, not 1.0
    scene.feed(1.2, 2.0)
    await scene.recorder.finish_due(scene.t0 + 2.0)
    assert not scene.recorder.recordings
    await scene.recorder.close()
    (clip,) = await scene.clips()
    assert clip.ended_at is not None
    assert clip.ended_at.timestamp() >= scene.t0 + 1.8 - 1e-3


async def test_a_clip_stops_at_its_cap_and_the_next_update_starts_another(
    tmp_path: Path, events: EventStore
) -> None:
    scene = Scene(tmp_path, events, pre_s=1.0, post_s=1.0, max_clip_s=3.0)
    scene.feed(-2.0, 0.2)
    await scene.event(0.0)
    scene.feed(0.2, 1.8)
    await scene.event(1.6)  # would run to 2.6, but the cap is at -1.0 + 3.0 = 2.0
    scene.feed(1.8, 2.2)
    await scene.recorder.finish_due(scene.t0 + 2.2)
    assert not scene.recorder.recordings
    scene.feed(2.2, 3.0)
    await scene.event(2.8)  # a new clip, from 1 s before this event
    scene.feed(3.0, 4.0)
    await scene.recorder.finish_due(scene.t0 + 4.0)
    await scene.recorder.close()
    first, second = sorted(await scene.clips(), key=lambda r: r.started_at)
    assert first.ended_at is not None
    assert first.ended_at.timestamp() <= scene.t0 + 2.0 + 1e-3
    assert second.started_at.timestamp() >= scene.t0 + 1.8 - 1e-3
    assert {first.state, second.state} == {"ready"}


async def test_shutdown_finishes_a_clip_with_the_frames_it_has(
    tmp_path: Path, events: EventStore
) -> None:
    scene = Scene(tmp_path, events, pre_s=1.0, post_s=5.0)
    scene.feed(-2.0, 0.2)
    await scene.event(0.0)
    scene.feed(0.2, 0.6)
    await scene.recorder.close()
    (clip,) = await scene.clips()
    assert clip.state == "ready"
    assert len(clip_times(clip.path)) == 8  # 1 s before the event, 0.6 s after, at 5 fps


async def test_no_frames_around_the_event_means_no_clip(tmp_path: Path, events: EventStore) -> None:
    scene = Scene(tmp_path, events, pre_s=1.0, post_s=1.0)
    scene.feed(-60.0, -50.0)  # the camera stopped long before the event
    await scene.event(0.0)
    await scene.recorder.close()
    assert await scene.clips() == []
    assert scene.recorder.recordings == {}


async def test_incidents_of_cameras_without_a_tap_are_ignored(
    tmp_path: Path, events: EventStore
) -> None:
    scene = Scene(tmp_path, events)
    await scene.events.record(
        EventType.FARM_EVENT,
        farm_event(camera_id="cam9"),
        correlation_id="cam9:escape:pen:1",
    )
    await scene.engine.catch_up()
    (opened,) = await events.list_events(types=[EventType.INCIDENT_OPENED])
    await scene.recorder.on_event(opened)
    row = await events.db.fetch_one("SELECT COUNT(*) FROM media")
    assert row is not None
    assert row[0] == 0


async def test_an_update_heard_again_after_its_clip_finished_starts_no_second_clip(
    tmp_path: Path, events: EventStore
) -> None:
    scene = Scene(tmp_path, events, pre_s=1.0, post_s=1.0)
    scene.feed(-2.0, 0.2)
    await scene.event(0.0)
    scene.feed(0.2, 1.0)
    await scene.event(0.8)
    (update,) = await events.list_events(types=[EventType.INCIDENT_UPDATED])
    scene.feed(1.0, 2.0)
    await scene.recorder.finish_due(scene.t0 + 2.0)
    assert not scene.recorder.recordings
    await scene.recorder.on_event(update)  # the same update again (e.g. hub and restart watch)
    assert not scene.recorder.recordings
    scene.feed(2.0, 3.0)
    await scene.event(2.8)  # a new event after the clip: a new clip
    assert scene.recorder.recordings
    await scene.recorder.close()
    assert len(await scene.clips()) == 2


async def test_an_event_older_than_the_ring_gets_no_clip_of_later_frames(
    tmp_path: Path, events: EventStore
) -> None:
    scene = Scene(tmp_path, events, pre_s=1.0, post_s=1.0)
    scene.feed(0.0, 3.0)  # frames since a restart
    await scene.event(-30.0)  # an event from before it, applied late by the engine
    assert scene.recorder.recordings == {}
    await scene.recorder.close()
    assert await scene.clips() == []
