"""An analyzer timing a hold gets a frame inferred when the hold ends, though nothing moves."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import ClassVar

from appliance.analyzers.base import Analyzer, AnalyzerConfig, Finding, Scene
from appliance.camera.settings import CameraSettings, MotionSettings
from appliance.inference import Runner
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.settings import CameraPipelineSettings
from appliance.scenes.truth import SceneTruth
from appliance.store.events import EventStore
from appliance.vision.settings import VisionSettings
from appliance.vision.tracker import Track, Tracker, TrackerSettings, on_the_move
from contracts.vision import Detection
from tests.appliance.pipeline.conftest import zones_of
from tests.conftest import eventually

ASK_AFTER_S = 0.7


class AsksForLooks(Analyzer):
    """Times a made-up hold that ends `ASK_AFTER_S` after every frame it sees."""

    key: ClassVar[str] = "asks"
    config_model: ClassVar[type[AnalyzerConfig]] = AnalyzerConfig

    def __init__(self) -> None:
        super().__init__(AnalyzerConfig(type="asks"), "cam")
        self.seen: list[float] = []

    def check(self, scene: Scene) -> list[Finding]:
        self.seen.append(scene.t)
        return []

    def due(self, now: float) -> float | None:
        return self.seen[-1] + ASK_AFTER_S if self.seen else None


async def test_the_camera_infers_when_an_analyzer_asks(
    escape_scene: tuple[Path, SceneTruth], detector_runner: Runner, event_store: EventStore
) -> None:
    video, truth = escape_scene
    source = CameraSettings(
        id="cam",
        url=str(video),
        min_inference_interval_s=30.0,
        motion=MotionSettings(min_changed_fraction=1.0),
    )  # neither motion nor the minimum rate sends a frame after the first
    settings = CameraPipelineSettings(source=source, zones=zones_of(truth))
    pipeline = CameraPipeline(settings, VisionSettings(), detector_runner, event_store)
    asking = AsksForLooks()
    pipeline.analyzers = [asking]

    task = asyncio.create_task(pipeline.run())
    try:

        async def five_looks() -> bool:
            return len(asking.seen) >= 5

        await eventually(five_looks, 30.0)
    finally:
        task.cancel()
        await asyncio.wait([task])
    assert pipeline.source is not None
    counters = pipeline.source.counters()
    assert counters.inferred_when_due >= 4
    assert counters.inferred_for_motion == 0
    assert counters.inferred_for_min_rate == 1  # the first frame
    gaps = [b - a for a, b in itertools.pairwise(asking.seen)]
    # never before the asked moment; soon after it unless the machine is slow to infer
    assert all(ASK_AFTER_S - 0.05 <= gap <= ASK_AFTER_S + 2.0 for gap in gaps), gaps


def walked(step: float, jitter: float) -> Track:
    """A cow box seen at 5 fps for 2 s, moving `step` per frame with alternating jitter."""
    tracker = Tracker(TrackerSettings(min_hits=1))
    update = None
    for i in range(11):
        x = 0.3 + step * i + (jitter if i % 2 else -jitter)
        box = Detection(label="cow", class_id=20, score=0.9, x1=x, y1=0.4, x2=x + 0.2, y2=0.6)
        update = tracker.update([box], 100.0 + 0.2 * i)
    assert update is not None
    (track,) = update.confirmed
    return track


def test_a_walking_animal_is_on_the_move_a_standing_one_is_not() -> None:
    # a cow walking 0.03 frame widths a second: 0.006 per 5 fps frame
    assert on_the_move(walked(0.006, 0.0), 102.0)
    assert not on_the_move(walked(0.0, 0.004), 102.0)  # box jitter of a standing cow
    assert not on_the_move(walked(0.006, 0.0), 106.0)  # last seen long ago
