"""The vision pipeline feeds the recorder: an escape seen by the real detector gets a clip
that starts before the event and a snapshot of the event frame with its tracked boxes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from appliance.camera.settings import CameraSettings
from appliance.incidents.engine import IncidentEngine
from appliance.inference import Runner
from appliance.media.overlay import BOX_COLOUR
from appliance.media.recorder import MediaRecorder
from appliance.media.store import MediaStore
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.settings import CameraPipelineSettings
from appliance.scenes.truth import SceneTruth
from appliance.store.events import EventStore
from appliance.tasks import background
from appliance.vision.settings import VisionSettings
from appliance.vision.tracker import TrackerSettings
from contracts import EventType, FarmEventKind, MediaKind
from tests.appliance.media.conftest import (
    make_media_settings,
    quick_incidents,
    read_image,
    wait_until,
)
from tests.appliance.pipeline.conftest import zones_of


@pytest.mark.timeout(480)  # the first model load converts the model
async def test_escape_seen_by_the_pipeline_gets_a_clip_and_a_boxed_snapshot(
    escape_scene: tuple[Path, SceneTruth],
    media_detector_runner: Runner,
    events: EventStore,
    tmp_path: Path,
) -> None:
    video, truth = escape_scene
    (scripted,) = [c for c in truth.conditions if c.condition == "escape"]
    store = MediaStore(events)
    recorder = MediaRecorder(make_media_settings(), events, store, tmp_path / "media")
    settings = CameraPipelineSettings(
        source=CameraSettings(id="cam-escape", url=str(video)), zones=zones_of(truth)
    )
    pipeline = CameraPipeline(
        settings,
        VisionSettings(tracker=TrackerSettings(min_hits=2)),
        media_detector_runner,
        events,
        recorder.camera("cam-escape"),
    )
    engine = IncidentEngine(events, quick_incidents())

    async def escape_media_ready() -> bool:
        incidents = [i for i in await engine.list_incidents() if i.kind is FarmEventKind.ESCAPE]
        if not incidents:
            return False
        rows = await store.for_incident(incidents[0].incident_id)
        return {r.kind for r in rows if r.state == "ready"} == {MediaKind.CLIP, MediaKind.SNAPSHOT}

    async with (
        background(engine.run(), "engine"),
        background(recorder.run(), "recorder"),
        background(pipeline.run(), "pipeline"),
    ):
        await wait_until(escape_media_ready, scripted.start_s + 40.0)
    (incident,) = [i for i in await engine.list_incidents() if i.kind is FarmEventKind.ESCAPE]
    farm_events = await events.list_events(types=[EventType.FARM_EVENT])
    first = min(
        e.occurred_at
        for e in farm_events
        if e.payload["kind"] == "escape" and e.correlation_id == incident.correlation_id
    )
    rows = {r.kind: r for r in await store.for_incident(incident.incident_id)}
    clip, snapshot = rows[MediaKind.CLIP], rows[MediaKind.SNAPSHOT]
    assert clip.started_at < first
    assert snapshot.started_at == first  # the very frame the detector saw
    image = await asyncio.to_thread(read_image, snapshot.path)
    boxed = np.abs(image.astype(int) - np.array(BOX_COLOUR)).max(axis=2) < 40
    assert boxed.sum() > 100  # the tracked boxes are drawn
    assert pipeline.media is not None
    assert pipeline.media.frames_kept > 0
