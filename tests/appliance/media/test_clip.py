"""A scripted camera event becomes a clip that starts before it, and a snapshot of its frame.

A real camera source plays a generated video (a dark pen; from frame 30 a white animal). A
watcher on the reader thread records the farm event at the capture time of the first frame
that shows the animal, as the vision pipeline would; the real incident engine opens the
incident and the recorder writes the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from appliance.camera import CameraSource
from appliance.camera.frames import Frame
from appliance.incidents.engine import IncidentEngine
from appliance.media.overlay import BOX_COLOUR, OverlayZone
from appliance.media.recorder import EDGE_S, MediaRecorder
from appliance.media.store import MediaRow, MediaStore
from appliance.store import EventStore
from appliance.tasks import background
from contracts import EventType, MediaKind, MediaRecord
from tests.appliance.camera.conftest import make_camera_settings
from tests.appliance.media.conftest import (
    SQUARE,
    VIDEO_FPS,
    farm_event,
    make_media_settings,
    quick_incidents,
    read_image,
    scene_video,
    shows_animal,
    wait_until,
)


@dataclass(frozen=True)
class FakeTrack:
    """A tracked object as the pipeline hands it over (the tracker's `Track` has these)."""

    id: int
    label: str
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class PenZone:
    name: str
    kind: str
    points: list[tuple[float, float]]


ANIMAL = FakeTrack(7, "cow", 0.91, (100 / 320, 80 / 240, 160 / 320, 140 / 240))
PEN = PenZone("pen", "pen", [(0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95)])


async def record_scripted_event(
    tmp_path: Path,
    events: EventStore,
    recorder: MediaRecorder,
    engine: IncidentEngine | None = None,
) -> tuple[datetime, list[MediaRow]]:
    """Play the scene until the animal shows; record the event; wait for clip and snapshot.

    Without `engine` an incident engine and the recorder run here; with it (a running
    appliance's), both are already running."""
    loop = asyncio.get_running_loop()
    buffer = recorder.camera("cam1", [OverlayZone("pen", "pen", tuple(PEN.points))])
    seen: asyncio.Future[Frame] = loop.create_future()

    def found(frame: Frame) -> None:
        if not seen.done():
            seen.set_result(frame)

    def watch(frame: Frame) -> None:  # reader thread, after the tap saw the frame
        if shows_animal(frame.image) and not seen.done():
            loop.call_soon_threadsafe(found, frame)

    settings = make_camera_settings(
        scene_video(tmp_path / "scene.avi"), fps=VIDEO_FPS, realtime=True
    )
    source = CameraSource(settings)
    source.add_frame_listener(buffer.on_frame)
    source.add_frame_listener(watch)
    store = recorder.store
    async with contextlib.AsyncExitStack() as stack:
        if engine is None:
            engine = IncidentEngine(events, quick_incidents())
            await stack.enter_async_context(background(engine.run(), "engine"))
            await stack.enter_async_context(background(recorder.run(), "recorder"))
        await stack.enter_async_context(source)
        frame = await asyncio.wait_for(seen, 30)
        event_at = datetime.fromtimestamp(frame.captured_at, UTC)
        buffer.note_view(frame, [ANIMAL], [PEN])
        await events.record(
            EventType.FARM_EVENT,
            farm_event(),
            correlation_id="cam1:escape:pen:7",
            occurred_at=event_at,
        )

        async def both_ready() -> bool:
            assert engine is not None
            incidents = await engine.list_incidents()
            if not incidents:
                return False
            rows = await store.for_incident(incidents[0].incident_id)
            return len(rows) == 2 and all(r.state == "ready" for r in rows)

        await wait_until(both_ready, 60)
        incident = (await engine.list_incidents())[0]
        return event_at, await store.for_incident(incident.incident_id)


async def test_clip_of_a_scripted_event_starts_before_its_first_frame(
    tmp_path: Path, events: EventStore
) -> None:
    settings = make_media_settings()
    recorder = MediaRecorder(settings, events, MediaStore(events), tmp_path / "media")
    event_at, rows = await record_scripted_event(tmp_path, events, recorder)
    clip = next(r for r in rows if r.kind is MediaKind.CLIP)
    assert clip.content_type == "video/mp4"
    assert clip.path.parent == tmp_path / "media" / clip.started_at.strftime("%Y-%m-%d")
    assert clip.started_at < event_at
    # the whole pre-event buffer is there (one recording interval of leeway)
    assert clip.started_at <= event_at - timedelta(seconds=settings.pre_s - 1 / settings.fps)
    assert clip.ended_at is not None
    # the frame at the end counts though stored times are rounded to the microsecond
    assert clip.ended_at >= event_at + timedelta(seconds=settings.post_s - EDGE_S)

    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [(f.time, f.to_ndarray(format="bgr24")) for f in container.decode(stream)]
    assert stream.codec_context.pix_fmt == "yuv420p"
    first_time, first_image = frames[0]
    assert first_time == 0.0  # the first frame is the row's started_at
    assert not shows_animal(first_image)  # before the event's first frame
    offset = (event_at - clip.started_at).total_seconds()
    before = [image for t, image in frames if t is not None and t < offset - 1e-3]
    after = [image for t, image in frames if t is not None and t >= offset - 1e-3]
    assert len(before) >= round((settings.pre_s - 1 / settings.fps) * settings.fps)
    assert not any(shows_animal(image) for image in before)
    assert shows_animal(after[0])  # the event's frame is where the clip says it is
    assert frames[-1][0] >= offset + settings.post_s - 1 / settings.fps  # post-roll complete
    assert len(frames) >= (settings.pre_s + settings.post_s) * settings.fps - 2


async def test_snapshot_shows_the_event_frame_with_boxes_and_zones(
    tmp_path: Path, events: EventStore
) -> None:
    recorder = MediaRecorder(make_media_settings(), events, MediaStore(events), tmp_path / "m")
    event_at, rows = await record_scripted_event(tmp_path, events, recorder)
    snapshot = next(r for r in rows if r.kind is MediaKind.SNAPSHOT)
    assert snapshot.content_type == "image/jpeg"
    assert snapshot.started_at == snapshot.ended_at == event_at
    image = read_image(snapshot.path)
    assert image.shape == (240, 320, 3)
    # the box's left edge, drawn in the box colour, just outside the white animal
    edge = image[SQUARE[0].start + 15 : SQUARE[0].stop - 5, SQUARE[1].start].astype(int)
    assert np.abs(edge - np.array(BOX_COLOUR)).max(axis=1).mean() < 60
    # the zone is shaded: the dark pen is tinted towards the zone colour (blue in BGR)
    pen = image[200:230, 20:60].astype(int).mean(axis=(0, 1))
    assert pen[0] > pen[2] + 20


async def test_ready_files_are_announced_with_their_hash_in_the_outbox(
    tmp_path: Path, events: EventStore
) -> None:
    recorder = MediaRecorder(make_media_settings(), events, MediaStore(events), tmp_path / "m")
    _, rows = await record_scripted_event(tmp_path, events, recorder)
    announced = await events.list_events(types=[EventType.MEDIA_READY])
    records = {r.media_id: r for r in (MediaRecord.model_validate(e.payload) for e in announced)}
    assert set(records) == {r.media_id for r in rows}
    for row in rows:
        record = records[row.media_id]
        data = row.path.read_bytes()
        assert record.size_bytes == row.size_bytes == len(data)
        assert record.sha256 == row.sha256 == hashlib.sha256(data).hexdigest()
        assert record.incident_id == row.incident_id
        assert record.camera_id == "cam1"
    pending = await events.pending(100, type_prefix="incident.media_ready")
    assert {p.event.id for p in pending} == {e.id for e in announced}
    assert all(e.correlation_id == "cam1:escape:pen:7" for e in announced)
