"""A camera pipeline over a composed video with the real runner records the scripted escape."""

from __future__ import annotations

import asyncio
from pathlib import Path

from appliance.camera.settings import CameraSettings
from appliance.inference import Runner
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.settings import CameraPipelineSettings
from appliance.scenes.truth import SceneTruth
from appliance.store.events import EventStore
from appliance.vision.settings import VisionSettings
from appliance.vision.tracker import TrackerSettings
from contracts import EventType
from tests.appliance.pipeline.conftest import zones_of
from tests.conftest import eventually


async def test_escape_scene_records_an_escape_event_for_the_camera(
    escape_scene: tuple[Path, SceneTruth], detector_runner: Runner, event_store: EventStore
) -> None:
    video, truth = escape_scene
    (scripted,) = [c for c in truth.conditions if c.condition == "escape"]
    settings = CameraPipelineSettings(
        source=CameraSettings(id="cam-escape", url=str(video)), zones=zones_of(truth)
    )
    pipeline = CameraPipeline(
        settings, VisionSettings(tracker=TrackerSettings(min_hits=2)), detector_runner, event_store
    )

    async def escape_recorded() -> bool:
        events = await event_store.list_events(types=[EventType.FARM_EVENT])
        return any(e.payload.get("kind") == "escape" for e in events)

    task = asyncio.create_task(pipeline.run())
    try:
        await eventually(escape_recorded, scripted.start_s + 15.0)
    finally:
        task.cancel()
        await asyncio.wait([task])
    events = await event_store.list_events(types=[EventType.FARM_EVENT])
    (escape, *_) = [e for e in events if e.payload.get("kind") == "escape"]
    assert escape.payload["camera_id"] == "cam-escape"
    assert pipeline.counters.inferred > 0
    assert len(pipeline.counters.pipeline_ms) == pipeline.counters.inferred
    assert min(pipeline.counters.pipeline_ms) > 0
