"""The escape rule on tracks made by hand, and on the composed escape scene as real
detectors see it.

The shipped SSD on OpenVINO and its heads-only ONNX bundle on ONNX Runtime box the cows at
the gate differently: the leaving cow's box merges with and splits from the cows beside it,
and it changes track ids on its way out. With the appliance's default filters and tracker
both must report the escape at once, as one case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.analyzers.base import Finding, Scene
from appliance.analyzers.escape import EscapeAnalyzer, EscapeConfig
from appliance.inference import PluginSpec, PluginState, Runner, RunnerSettings
from appliance.pipeline.settings import VisionPipelineSettings
from appliance.scenes.compose import Settings, compose
from appliance.scenes.truth import SceneTruth
from appliance.vision.profile import ProfileSelector, mean_luma
from appliance.vision.settings import NIGHT_MIN_SCORE
from appliance.vision.tracker import Track, Tracker, TrackerSettings, TrackerUpdate
from appliance.vision.zones import ZoneConfig, ZoneMonitor, ZoneSettings, zones_of_scene
from bench.farm_scenes import frames
from contracts import FarmEventKind
from contracts.vision import Detection
from tests.appliance.analyzers.replay import Alert

SSD_ONNX = Path(__file__).resolve().parents[3] / "build" / "models" / "coco-ssd-mobilenet-v2-onnx"
DETECT_FPS = 5.0  # a camera's default
NOON = datetime(2026, 6, 1, 12, 0).astimezone()
# a pen left of a fence at x = 0.5 and a pasture right of it, both below y = 0.4
PEN = ZoneConfig(name="pen", kind="pen", points=[(0, 0.4), (0.5, 0.4), (0.5, 1), (0, 1)])
PASTURE = ZoneConfig(
    name="pasture", kind="pasture", points=[(0.5, 0.4), (1, 0.4), (1, 1), (0.5, 1)]
)
FIELDS = ZoneSettings(zones=[PEN, PASTURE])


def make_cow(track_id: int, x: float, bottom: float = 0.8, height: float = 0.25) -> Track:
    """A cow's track whose box stands with its bottom centre (the feet) at (x, bottom)."""
    box = Detection(
        label="cow", class_id=0, score=0.9, x1=x - 0.1, y1=bottom - height, x2=x + 0.1, y2=bottom
    )
    return Track(track_id, box, 0.0, TrackerSettings())


class Watch:
    """The escape rule fed one frame of confirmed tracks at a time, 5 frames a second."""

    def __init__(self) -> None:
        self.rule = EscapeAnalyzer(EscapeConfig(), "cam")
        self.monitor = ZoneMonitor(FIELDS, camera="cam")
        self.t = 0.0

    def frame(self, *tracks: Track) -> list[Finding]:
        update = TrackerUpdate(self.t, list(tracks), [], [], [])
        kinds = {z.name: z.kind for z in FIELDS.zones}
        scene = Scene("cam", self.t, NOON, update, self.monitor.update(update), self.monitor, kinds)
        self.t += 0.2
        return self.rule.observe(scene)

    def walk(self, track_id: int, xs: list[float], bottom: float = 0.8) -> list[Finding]:
        return [f for x in xs for f in self.frame(make_cow(track_id, x, bottom))]


def test_a_whole_cow_just_past_the_fence_is_out_at_once() -> None:
    watch = Watch()
    assert watch.walk(1, [0.40] * 5 + [0.47, 0.49, 0.505]) == []
    [finding] = watch.frame(make_cow(1, 0.515))  # 0.015 past the fence, as tall as in the pen
    assert finding.event.kind is FarmEventKind.ESCAPE
    assert finding.event.zone == "pen"


def test_a_box_cut_short_just_past_the_back_fence_is_not_out() -> None:
    watch = Watch()
    assert watch.walk(1, [0.3] * 5, bottom=0.42) == []
    # something in front hides the legs: the box ends 0.03 above the pen, 0.8 of its height
    assert [f for _ in range(10) for f in watch.frame(make_cow(1, 0.3, 0.37, height=0.2))] == []


def test_a_cow_found_again_after_a_new_track_took_its_place_keeps_its_home() -> None:
    watch = Watch()
    assert watch.walk(1, [0.40] * 5) == []
    assert watch.frame(make_cow(2, 0.40)) == []  # missed for a frame; a new box there
    findings = watch.walk(1, [0.42, 0.46, 0.50, 0.52, 0.54])

    assert findings
    assert {f.correlation_id for f in findings} == {findings[0].correlation_id}


def test_a_track_id_given_to_a_cow_in_the_pasture_is_no_escape() -> None:
    watch = Watch()
    assert watch.walk(1, [0.2] * 5) == []
    assert watch.walk(1, [0.8] * 10) == []  # the tracker matched a far box after a gap


def test_a_track_id_passed_from_a_box_over_the_herd_to_one_cow_in_the_pasture_is_no_escape() -> (
    None
):
    watch = Watch()
    herd = Detection(label="cow", class_id=0, score=0.9, x1=0.02, y1=0.45, x2=0.52, y2=0.75)
    for _ in range(5):  # one box over several cows in the pen, the last one reaching the fence
        assert watch.frame(Track(1, herd, 0.0, TrackerSettings())) == []
    # next frame the tracker gives that id to one cow in the pasture: it moved less than the
    # wide box's diagonal, but more than its own
    assert watch.walk(1, [0.8] * 10, bottom=0.7) == []


def test_a_new_track_beside_a_lost_box_of_the_whole_herd_does_not_take_its_home() -> None:
    watch = Watch()
    herd = Detection(label="cow", class_id=0, score=0.9, x1=0.05, y1=0.5, x2=0.45, y2=0.75)
    for _ in range(5):
        assert watch.frame(Track(1, herd, 0.0, TrackerSettings())) == []
    assert watch.walk(2, [0.62] * 10) == []  # a cow of the pasture, first seen


def test_cows_leaving_together_are_one_case() -> None:
    watch = Watch()
    for _ in range(5):
        assert watch.frame(make_cow(1, 0.40), make_cow(2, 0.30, bottom=0.7)) == []
    findings = [
        f
        for x in (0.45, 0.50, 0.55, 0.60, 0.65, 0.70)
        for f in watch.frame(make_cow(1, x), make_cow(2, x - 0.08, bottom=0.7))
    ]
    assert findings
    assert len({f.correlation_id for f in findings}) == 1


@pytest.fixture(scope="module")
def escape_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SceneTruth]:
    """The UI tests' scene: a cow walks out through the gate about 8 s in."""
    result = compose(Settings(scene="escape", seconds=20.0), tmp_path_factory.mktemp("scenes"))
    return result.video, result.truth


@pytest.fixture(params=["openvino", "onnx"])
async def detector(
    request: pytest.FixtureRequest, shipped_model_cache: Path
) -> AsyncIterator[Runner]:
    """A runner with the shipped detector on OpenVINO (as the appliance runs it by default)
    or the ONNX bundle (as the UI tests run it)."""
    config: dict[str, Any] = {"type": "model", "bundle": str(SSD_ONNX)}
    if request.param == "openvino":
        config = {"type": "model", "cache_dir": str(shipped_model_cache), "score": NIGHT_MIN_SCORE}
    plugin = PluginSpec(name="coco", config=config)
    async with Runner(RunnerSettings(load_timeout_s=90.0, plugins=[plugin])) as runner:
        status = (await runner.wait_settled(90.0))["coco"]
        assert status.state is PluginState.READY, status.reason
        yield runner


async def watch(video: Path, truth: SceneTruth, runner: Runner) -> list[Alert]:
    """The camera pipeline's steps with every looked-at frame inferred: detector, default
    filters and tracker, zones, the escape rule with its defaults."""
    processing = VisionPipelineSettings().processing
    selector = ProfileSelector(processing.filters, processing.night)
    tracker = Tracker(processing.tracker)
    zones = zones_of_scene(truth)
    monitor = ZoneMonitor(zones, camera="cam")
    kinds = {z.name: z.kind for z in zones.zones}
    rule = EscapeAnalyzer(EscapeConfig(), "cam")
    step = max(1, round(truth.fps / DETECT_FPS))
    alerts: list[Alert] = []
    for number, image in enumerate(frames(video)):
        if number % step:
            continue
        t = number / truth.fps
        result = await runner.detect("cam", image, deadline_s=30.0)
        height, width = image.shape[:2]
        detections = selector.select_profile(NOON, mean_luma(image)).apply(
            result.detections, width / height
        )
        update = tracker.update(detections, t)
        scene = Scene("cam", t, NOON, update, monitor.update(update), monitor, kinds)
        alerts += [Alert(t, f) for f in rule.observe(scene)]
    return alerts


async def test_both_detectors_see_the_escape_at_once_as_one_case(
    escape_scene: tuple[Path, SceneTruth], detector: Runner
) -> None:
    video, truth = escape_scene
    [condition] = truth.conditions

    alerts = await watch(video, truth, detector)

    assert alerts
    assert {a.finding.event.kind for a in alerts} == {FarmEventKind.ESCAPE}
    assert len({a.finding.correlation_id for a in alerts}) == 1
    assert -0.2 <= alerts[0].t - condition.start_s <= 1.0
