"""The benches' detections cache: a repeated image is answered from disk, never a stale model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.inference import DetectResult, PluginSpec, PluginState, Runner, RunnerSettings
from appliance.scenes import Settings, build_plan, render
from bench.detections_cache import CachedRunner
from contracts.vision import Detection
from plugins.base import Frame


def make_herd_frame() -> Frame:
    """A composed frame of cows grazing (the shipped detector finds them)."""
    settings = Settings(scene="herd_grazing", seconds=1.0)
    image, _ = next(render(build_plan("herd_grazing", 1, 1.0), settings.frame()))
    return np.ascontiguousarray(image, dtype=np.uint8)


def make_runner_settings(**config: Any) -> RunnerSettings:
    plugin = PluginSpec(name="coco", config={"type": "model", **config})
    return RunnerSettings(load_timeout_s=90.0, plugins=[plugin])


class Spy:
    """Counts the detects that reach a runner's worker."""

    def __init__(self, runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.real = runner.detect
        monkeypatch.setattr(runner, "detect", self.detect)

    async def detect(self, camera_id: str, frame: Frame, **kwargs: Any) -> DetectResult:
        self.calls += 1
        return await self.real(camera_id, frame, **kwargs)


@pytest.fixture
async def detector_runner(shipped_model_cache: Path) -> AsyncIterator[Runner]:
    async with Runner(make_runner_settings(cache_dir=str(shipped_model_cache))) as runner:
        status = (await runner.wait_settled(90.0))["coco"]
        assert status.state is PluginState.READY, status.reason
        yield runner


async def test_a_repeated_image_is_answered_from_disk_without_the_worker(
    detector_runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(detector_runner, monkeypatch)
    frame = make_herd_frame()
    path = tmp_path / "detections.sqlite"
    cached = CachedRunner(detector_runner, path)
    first = await cached.detect("cam", frame, plugin="coco", deadline_s=60.0)
    again = await cached.detect("other-cam", frame.copy(), plugin="coco", deadline_s=60.0)
    cached.close()
    reopened = CachedRunner(detector_runner, path)  # what a killed run committed is kept
    later = await reopened.detect("cam", frame, deadline_s=60.0)  # the default plugin
    reopened.close()

    assert {d.label for d in first.detections} >= {"cow"}
    assert again == first
    assert later == first
    assert (cached.hits, cached.misses, reopened.hits, reopened.misses) == (1, 1, 1, 0)
    assert spy.calls == 1


async def test_a_different_image_or_crop_goes_to_the_worker(
    detector_runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(detector_runner, monkeypatch)
    frame = make_herd_frame()
    crop = frame[60:300, 150:550]  # a view, as a second inference on crops sends
    cached = CachedRunner(detector_runner, tmp_path / "detections.sqlite")
    await cached.detect("cam", frame, deadline_s=60.0)
    await cached.detect("cam", crop, deadline_s=60.0)
    await cached.detect("cam", np.ascontiguousarray(crop), deadline_s=60.0)  # same bytes
    await cached.detect("cam", np.flip(frame, axis=1), deadline_s=60.0)
    cached.close()

    assert (cached.hits, cached.misses) == (1, 3)
    assert spy.calls == 3


async def test_a_changed_detector_never_reads_the_boxes_of_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keyed by model identity: another score threshold (or bundle, code, runtime) misses."""
    frame = make_herd_frame()
    old_box = Detection(label="cow", class_id=20, score=0.9, x1=0.1, y1=0.1, x2=0.3, y2=0.3)
    path = tmp_path / "detections.sqlite"
    answers = {0.4: DetectResult([old_box], 5.0), 0.6: DetectResult([], 5.0)}
    results = []
    for score, answer in answers.items():
        runner = Runner(make_runner_settings(score=score))  # not started: detect is faked

        async def detect(*_: object, answer: DetectResult = answer, **__: object) -> DetectResult:
            return answer

        monkeypatch.setattr(runner, "detect", detect)
        cached = CachedRunner(runner, path)
        results.append((await cached.detect("cam", frame), cached.misses))
        cached.close()

    assert results == [(answers[0.4], 1), (answers[0.6], 1)]
