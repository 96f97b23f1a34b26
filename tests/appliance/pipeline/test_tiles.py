"""Night tiles: the tile grid, boxes back in frame coordinates, one box per object, and cows
on a dark composed frame found in tiles that the whole frame misses."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from appliance.analyzers.steady import iou
from appliance.camera.frames import Frame, InferenceFrame, InferReason
from appliance.camera.settings import CameraSettings
from appliance.inference import PluginSpec, PluginState, Runner, RunnerSettings
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.closer import Region, crop, in_frame
from appliance.pipeline.settings import CameraPipelineSettings
from appliance.pipeline.tiles import NightTilesSettings, merge, tiles
from appliance.scenes.compose import Settings, compose
from appliance.scenes.truth import SceneTruth
from appliance.store.events import EventStore
from appliance.vision.settings import NIGHT_MIN_SCORE, VisionSettings
from appliance.vision.tracker import TrackerSettings
from bench.farm_scenes import frames
from contracts.vision import Detection

W, H = 640, 360
NOON = datetime(2026, 6, 1, 12, 0).astimezone().timestamp()
MIDNIGHT = datetime(2026, 6, 1, 23, 30).astimezone().timestamp()


def box(label: str, x1: float, y1: float, x2: float, y2: float, score: float = 0.8) -> Detection:
    return Detection(label=label, class_id=0, score=score, x1=x1, y1=y1, x2=x2, y2=y2)


def test_default_tiles_overlap_by_half_and_cover_the_frame() -> None:
    grid = tiles(W, H, NightTilesSettings())
    assert len(grid) == 10  # 5 across, 2 down
    assert {r.x2 - r.x1 for r in grid} == {240}
    assert {r.y2 - r.y1 for r in grid} == {240}
    assert all(0 <= r.x1 < r.x2 <= W and 0 <= r.y1 < r.y2 <= H for r in grid)
    xs = sorted({r.x1 for r in grid})
    assert xs[0] == 0
    assert xs[-1] == W - 240
    assert all(b - a <= 120 for a, b in itertools.pairwise(xs))  # half a tile or less
    covered = np.zeros((H, W), bool)
    for r in grid:
        covered[r.y1 : r.y2, r.x1 : r.x2] = True
    assert covered.all()


def test_a_frame_no_larger_than_a_tile_is_one_tile() -> None:
    assert tiles(200, 300, NightTilesSettings(tile_share=1.0)) == [Region(0, 0, 200, 300)]


def test_tile_boxes_come_back_in_frame_coordinates_without_cut_ones() -> None:
    region = Region(200, 120, 440, 360)  # inner edges left, top, right; bottom is the frame's
    found = [
        box("cow", 0.25, 0.25, 0.75, 0.75),
        box("cow", 0.0, 0.3, 0.4, 0.6),  # cut by the left edge: part of something larger
        box("cow", 0.5, 0.5, 0.9, 1.0),  # on the frame's own bottom edge: whole
    ]
    kept = in_frame(found, region, W, H)
    assert len(kept) == 2
    first = kept[0]
    assert (first.x1, first.y1) == pytest.approx(((200 + 60) / W, (120 + 60) / H))
    assert (first.x2, first.y2) == pytest.approx(((200 + 180) / W, (120 + 180) / H))
    assert kept[1].y2 == pytest.approx(1.0)


def test_one_box_per_object_the_best_scored_kept() -> None:
    a = box("cow", 0.1, 0.1, 0.3, 0.3, score=0.5)
    b = box("cow", 0.11, 0.1, 0.31, 0.3, score=0.7)  # the same cow from the next tile
    c = box("sheep", 0.1, 0.1, 0.3, 0.3, score=0.4)  # another label: the filters judge it
    d = box("cow", 0.5, 0.1, 0.7, 0.3, score=0.6)
    merged = merge([a, b, c, d])
    assert merged == [b, d, c]


def test_a_patch_of_a_cow_boxed_as_a_dog_is_dropped_a_dog_beside_it_kept() -> None:
    cow = box("cow", 0.10, 0.30, 0.40, 0.60, score=0.5)
    patch = box("dog", 0.15, 0.35, 0.25, 0.45, score=0.7)  # inside the cow: its black patch
    beside = box("dog", 0.38, 0.45, 0.50, 0.60, score=0.6)  # overlaps the cow only a little
    calf = box("cow", 0.12, 0.40, 0.26, 0.58, score=0.45)  # same label: the filters judge it
    assert merge([cow, patch, beside, calf]) == [beside, cow, calf]


@pytest.fixture(scope="module")
def night_escape(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SceneTruth]:
    out = tmp_path_factory.mktemp("scenes")
    result = compose(Settings(scene="escape", seconds=30.0, fps=5.0, seed=1, night=True), out)
    return result.video, result.truth


@pytest.fixture
async def night_runner(pipeline_model_cache: Path) -> AsyncIterator[Runner]:
    """The shipped detector as the appliance runs it: boxes down to the night threshold."""
    config = {"type": "model", "cache_dir": str(pipeline_model_cache), "score": NIGHT_MIN_SCORE}
    settings = RunnerSettings(load_timeout_s=90.0, plugins=[PluginSpec(name="coco", config=config)])
    async with Runner(settings) as runner:
        statuses = await runner.wait_settled(90.0)
        assert statuses["coco"].state is PluginState.READY, statuses["coco"].reason
        yield runner


def _float_box(b: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def matched(detections: list[Detection], truth: SceneTruth, number: int) -> int:
    """Animals seen (at least 60 %) on frame `number` that a detection of their label boxes."""
    shown = [o for o in truth.frames[number].objects if o.visibility >= 0.6]
    return sum(
        any(
            d.label == o.label
            and iou((d.x1 * W, d.y1 * H, d.x2 * W, d.y2 * H), _float_box(o.bbox)) >= 0.5
            for d in detections
        )
        for o in shown
    )


async def test_tiles_find_dark_cows_the_whole_frame_misses(
    night_escape: tuple[Path, SceneTruth], night_runner: Runner
) -> None:
    video, truth = night_escape
    whole_hits = tiled_hits = shown = 0
    grid = tiles(W, H, NightTilesSettings())
    for number, image in enumerate(frames(video)):
        if number % 15:
            continue
        whole = (await night_runner.detect("cam", image, deadline_s=30.0)).detections
        found = list(whole)
        for region in grid:
            part = await night_runner.detect("cam", crop(image, region), deadline_s=30.0)
            found += in_frame(part.detections, region, W, H)
        whole_hits += matched(whole, truth, number)
        tiled_hits += matched(merge(found), truth, number)
        shown += sum(o.visibility >= 0.6 for o in truth.frames[number].objects)
    seen = f"of {shown} cows: whole frame {whole_hits}, with tiles {tiled_hits}"
    assert tiled_hits >= whole_hits + 3, seen
    assert tiled_hits >= 0.15 * shown, seen


async def test_the_pipeline_looks_at_tiles_at_night_only(
    night_escape: tuple[Path, SceneTruth], detector_runner: Runner, event_store: EventStore
) -> None:
    video, _ = night_escape
    image = next(iter(frames(video)))
    source = CameraSettings(id="cam-tiles", url=str(video), fps=5.0)
    settings = CameraPipelineSettings(source=source, night_tiles=NightTilesSettings(enabled=True))
    pipeline = CameraPipeline(
        settings, VisionSettings(tracker=TrackerSettings(min_hits=2)), detector_runner, event_store
    )
    bright = np.full_like(image, 120)
    await pipeline.process(InferenceFrame(Frame(bright, 1, NOON, NOON), InferReason.MOTION, 0.1))
    assert pipeline.counters.tiles_looked == 0
    for n in (2, 3):  # dark frames: the night profile
        at = MIDNIGHT + n
        await pipeline.process(InferenceFrame(Frame(image, n, at, at), InferReason.MOTION, 0.1))
    assert pipeline.counters.tiles_looked == 20
