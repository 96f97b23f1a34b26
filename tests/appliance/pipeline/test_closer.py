"""The closer look: where it looks, what it keeps, and a dog walking in found sooner."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from appliance.camera.analysis import FrameAnalyzer
from appliance.camera.frames import Frame, InferenceFrame
from appliance.camera.motion import InferenceGate, MotionGate
from appliance.camera.settings import CameraSettings, MotionSettings
from appliance.inference import Runner
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.closer import (
    ESTABLISHED_S,
    CloserLook,
    CloserLookSettings,
    Region,
    crop,
    new_objects,
)
from appliance.pipeline.settings import CameraPipelineSettings
from appliance.scenes.compose import Settings, compose
from appliance.scenes.truth import SceneTruth
from appliance.store.events import EventStore
from appliance.vision.settings import VisionSettings
from appliance.vision.tracker import Track, TrackerSettings
from bench.farm_scenes import frames
from contracts.vision import Detection
from tests.appliance.pipeline.conftest import zones_of

W, H = 640, 360
NOON = datetime(2026, 6, 1, 12, 0).astimezone().timestamp()


def field(seed: int = 1) -> np.ndarray:
    """A grassy frame: mid-green with fine texture."""
    rng = np.random.default_rng(seed)
    image = np.full((H, W, 3), (60, 140, 70), np.uint8)
    noisy = np.clip(image + rng.integers(-8, 9, image.shape), 0, 255)
    return np.asarray(noisy, dtype=np.uint8)


def with_blob(image: np.ndarray, x: int, y: int, w: int = 40, h: int = 30) -> np.ndarray:
    out = image.copy()
    out[y : y + h, x : x + w] = (30, 50, 90)  # a brown animal
    return out


def box(label: str, x1: float, y1: float, x2: float, y2: float, score: float = 0.8) -> Detection:
    return Detection(label=label, class_id=0, score=score, x1=x1, y1=y1, x2=x2, y2=y2)


def closer(hold_s: float = 2.0) -> CloserLook:
    return CloserLook(CloserLookSettings(hold_s=hold_s), MotionGate(MotionSettings()))


def test_unexplained_motion_gets_a_crop_around_it_inside_the_frame() -> None:
    look = closer()
    background = field()
    assert look.region(with_blob(background, 560, 250), [], 0.0) is None  # nothing to compare
    region = look.region(with_blob(background, 590, 250), [], 1.0)
    assert region is not None
    assert region.x2 == W
    assert region.x1 <= 560
    assert region.y1 <= 250
    assert region.y2 >= 280
    assert region.y2 - region.y1 == round(0.8 * H)  # the default crop_share


def test_motion_a_detection_explains_gets_no_closer_look() -> None:
    look = closer()
    background = field()
    look.region(with_blob(background, 300, 150), [], 0.0)
    animal = box("cow", 300 / W, 150 / H, 370 / W, 180 / H)
    assert look.region(with_blob(background, 330, 150), [animal], 1.0) is None


def test_light_over_the_whole_view_is_no_animal() -> None:
    look = closer()
    look.region(field(), [], 0.0)
    brighter = np.clip(field().astype(np.int16) + 60, 0, 255).astype(np.uint8)
    assert look.region(brighter, [], 1.0) is None


def test_a_find_is_looked_at_again_for_hold_s_then_let_go() -> None:
    look = closer(hold_s=2.0)
    background = field()
    look.region(with_blob(background, 560, 250), [], 0.0)
    region = look.region(with_blob(background, 590, 250), [], 1.0)
    assert region is not None
    look.found(region, 1.0, new=True)
    still = with_blob(background, 590, 250)
    assert look.region(still, [], 2.0) == region  # nothing moved: the same place again
    assert look.region(still, [], 3.5) is None  # held for 2 s only
    look.found(region, 4.0, new=True)
    assert look.region(still, [], 4.5) == region
    look.found(region, 4.5, new=False)  # looked, found nothing new: let go
    assert look.region(still, [], 5.0) is None


def test_crop_boxes_come_back_in_frame_coordinates() -> None:
    region = Region(320, 60, 620, 360)  # right edge inside, bottom at the frame's edge
    [dog] = new_objects([box("dog", 0.5, 0.5, 0.7, 1.0)], region, (H, W, 3), [], [])
    assert dog.x1 == pytest.approx((320 + 0.5 * 300) / W)
    assert dog.y1 == pytest.approx((60 + 0.5 * 300) / H)
    assert dog.x2 == pytest.approx((320 + 0.7 * 300) / W)
    assert dog.y2 == pytest.approx(1.0)  # the frame's own edge: not cut by the crop
    assert dog.label == "dog"
    assert dog.score == 0.8


def test_boxes_cut_by_the_crop_or_seen_already_are_not_new() -> None:
    region = Region(320, 60, 620, 360)
    cut = box("cow", 0.0, 0.2, 0.3, 0.5)  # at the crop's left edge, inside the frame
    seen_cow = box("cow", 0.5, 0.2, 0.8, 0.5)
    whole_frame = [box("cow", (320 + 0.45 * 300) / W, 0.2, (320 + 0.85 * 300) / W, 0.65)]
    assert new_objects([cut, seen_cow], region, (H, W, 3), whole_frame, []) == []


def followed(label: str, detection: Detection, age_s: float) -> Track:
    track = Track(7, detection.model_copy(update={"label": label}), 0.0, TrackerSettings())
    track.last_seen = age_s
    return track


def test_a_closer_look_starts_tracks_and_relabels_only_a_young_weaker_one() -> None:
    region = Region(0, 0, 360, 360)
    dog = box("dog", 0.2, 0.5, 0.4, 0.8, score=0.8)
    in_frame = new_objects([dog], region, (H, W, 3), [], [])[0]
    weak = in_frame.model_copy(update={"score": 0.5})
    strong = in_frame.model_copy(update={"score": 0.9})
    young_person = followed("person", weak, age_s=1.0)
    assert new_objects([dog], region, (H, W, 3), [], [young_person]) == [in_frame]
    assert new_objects([dog], region, (H, W, 3), [], [followed("person", strong, 1.0)]) == []
    old_person = followed("person", weak, age_s=ESTABLISHED_S)
    assert new_objects([dog], region, (H, W, 3), [], [old_person]) == []
    # an animal the tracker follows under its own label is not new, however weakly it was seen
    assert new_objects([dog], region, (H, W, 3), [], [followed("dog", weak, 0.5)]) == []


def test_crop_is_contiguous_and_the_right_pixels() -> None:
    image = field()
    part = crop(image, Region(100, 50, 300, 250))
    assert part.flags["C_CONTIGUOUS"]
    assert part.shape == (200, 200, 3)
    assert np.array_equal(part, image[50:250, 100:300])


@pytest.fixture(scope="module")
def predator_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SceneTruth]:
    out = tmp_path_factory.mktemp("scenes")
    result = compose(Settings(scene="predator", seconds=25.0, fps=10.0, seed=1), out)
    return result.video, result.truth


async def first_dog_s(
    video: Path, truth: SceneTruth, runner: Runner, events: EventStore, enabled: bool
) -> float | None:
    """Seconds into the video of the first confirmed dog track, played as a camera would be
    (5 fps looked at, motion gate, analyzers' looks), with the closer look on or off."""
    source = CameraSettings(id=f"cam-{enabled}", url=str(video), fps=truth.fps)
    settings = CameraPipelineSettings(
        source=source, zones=zones_of(truth), closer_look=CloserLookSettings(enabled=enabled)
    )
    pipeline = CameraPipeline(
        settings, VisionSettings(tracker=TrackerSettings(min_hits=2)), runner, events
    )
    motion = FrameAnalyzer(source)
    gate = InferenceGate(
        source.motion.min_changed_fraction, source.min_inference_interval_s, motion.gate
    )
    step = round(truth.fps / source.detect_fps)
    for number, image in enumerate(frames(video), start=1):
        if (number - 1) % step:
            continue
        at = NOON + (number - 1) / truth.fps
        stats = motion.motion(image)
        reason = gate.decide(stats.fraction, at, stats.prepared)
        if reason is None:
            continue
        frame = Frame(image, number, at, at)
        await pipeline.process(
            InferenceFrame(frame, reason, stats.fraction, stats.brightness, stats.prepared)
        )
        if pipeline.next_look is not None:
            gate.request(pipeline.next_look)
        live = pipeline.live
        if live is not None and any(t.label == "dog" for t in live.tracks):
            return at - NOON
    return None


async def test_a_dog_walking_in_at_the_edge_is_found_sooner_on_a_closer_look(
    predator_scene: tuple[Path, SceneTruth], detector_runner: Runner, event_store: EventStore
) -> None:
    video, truth = predator_scene
    [arrives] = [c for c in truth.conditions if c.condition == "predator"]
    whole = await first_dog_s(video, truth, detector_runner, event_store, enabled=False)
    closer_s = await first_dog_s(video, truth, detector_runner, event_store, enabled=True)
    seen = f"dog half in view at {arrives.start_s} s; tracked at {whole} s, closer {closer_s} s"
    assert whole is not None, seen
    assert whole - arrives.start_s > 2.0, seen  # the whole frame sees it late
    assert closer_s is not None, seen
    assert closer_s - arrives.start_s <= 1.2, seen
