"""File sources: looping, pacing, gating, health conditions, a file that goes and comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.camera import CameraCondition, CameraSource, InferenceFrame, InferReason
from appliance.camera.analysis import FrameStats
from appliance.vision.profile import mean_luma
from tests.appliance.camera.conftest import HealthLog, make_camera_settings
from tests.appliance.camera.media import (
    HEIGHT,
    WIDTH,
    Image,
    moving_square,
    numbered,
    shifted,
    textured_view,
    with_noise,
    write_video,
)
from tests.conftest import eventually


async def take(camera: CameraSource, count: int, seconds: float = 20.0) -> list[InferenceFrame]:
    items: list[InferenceFrame] = []
    async with asyncio.timeout(seconds):
        async for item in camera.frames_to_infer():
            items.append(item)
            if len(items) == count:
                break
    return items


async def test_file_source_loops_and_stamps_increasing_frame_numbers(tmp_path: Path) -> None:
    video = write_video(tmp_path / "numbered.avi", numbered(10), fps=25)
    settings = make_camera_settings(video, detect_fps=25, motion={"pixel_threshold": 5})

    async with CameraSource(settings) as camera:
        items = await take(camera, 25)

    numbers = [item.frame.number for item in items]
    levels = [int(np.median(item.frame.image)) for item in items]
    assert numbers == sorted(set(numbers))
    assert numbers[-1] > 10  # past the file's end
    wraps = [i for i in range(1, len(levels)) if levels[i] < levels[i - 1] - 100]
    assert wraps, f"the file never started over: {levels}"
    assert all(abs(level - 190) <= 6 for level in (levels[i - 1] for i in wraps))


async def test_file_plays_at_its_own_rate_and_detection_looks_at_detect_fps(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "moving.avi", moving_square(textured_view(), 20), fps=20)
    settings = make_camera_settings(video, detect_fps=5)

    async with CameraSource(settings) as camera:
        items = await take(camera, 8)
        counters = camera.counters()

    first, last = items[0].frame, items[-1].frame
    elapsed = last.captured_mono - first.captured_mono
    read_rate = (last.number - first.number) / elapsed
    detect_rate = (len(items) - 1) / elapsed
    assert read_rate == pytest.approx(20, rel=0.25)
    assert detect_rate == pytest.approx(5, rel=0.25)
    assert all(item.reason is InferReason.MOTION for item in items[1:])
    assert counters.frames_read > counters.frames_considered


async def test_static_scene_is_inferred_far_less_than_a_moving_one_yet_at_the_minimum_rate(
    tmp_path: Path,
) -> None:
    view = textured_view()
    static = write_video(tmp_path / "static.avi", with_noise(view, 20), fps=20)
    moving = write_video(tmp_path / "moving.avi", moving_square(view, 20), fps=20)
    settings = {"detect_fps": 10, "min_inference_interval_s": 0.5}
    still_camera = CameraSource(make_camera_settings(static, id="still", **settings))
    busy_camera = CameraSource(make_camera_settings(moving, id="busy", **settings))

    async with still_camera, busy_camera:
        still_task = asyncio.create_task(take(still_camera, 6))
        await take(busy_camera, 6)
        still_items = await still_task

        async def looked_at_enough() -> bool:
            return min(c.counters().frames_considered for c in (still_camera, busy_camera)) >= 30

        await eventually(looked_at_enough, 20)
        still, busy = still_camera.counters(), busy_camera.counters()

    assert still.gated_fraction <= 0.25
    assert busy.gated_fraction >= 0.8
    assert still.inferred_for_motion == 0
    assert still.inferred_for_min_rate >= 4
    gaps = np.diff([item.frame.captured_mono for item in still_items])
    assert gaps.max() <= 0.5 + 2 * 0.1 + 0.2  # interval + detect periods + a loaded machine
    assert {item.reason for item in still_items} == {InferReason.MIN_RATE}


async def test_motion_is_measured_on_every_looked_at_frame_and_health_at_its_own_interval(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "moving.avi", moving_square(textured_view(), 20), fps=20)
    settings = make_camera_settings(video, detect_fps=10, health={"check_interval_s": 0.5})
    camera = CameraSource(settings)
    checked: list[float] = []
    health = camera._analyzer.health

    def counted(image: Image, at_mono: float, motion_fraction: float) -> FrameStats:
        checked.append(at_mono)
        return health(image, at_mono, motion_fraction)

    camera._analyzer.health = counted  # type: ignore[method-assign]
    async with camera:
        items = await take(camera, 16)
        considered = camera.counters().frames_considered

    assert considered >= 16
    assert all(item.reason is InferReason.MOTION for item in items[1:])
    assert 2 <= len(checked) <= considered / 3
    assert min(np.diff(checked)) >= 0.5


@pytest.mark.parametrize("level", [12, 110, 200])
async def test_a_chosen_frame_carries_its_brightness_as_mean_luma(
    tmp_path: Path, level: int
) -> None:
    view = textured_view()
    view[:] = np.clip(view.astype(np.int16) + (level - 110), 0, 255).astype(np.uint8)
    video = write_video(tmp_path / "view.avi", with_noise(view, 10), fps=20)

    async with CameraSource(make_camera_settings(video)) as camera:
        items = await take(camera, 2)

    for item in items:
        assert item.brightness == pytest.approx(mean_luma(item.frame.image), abs=3.0)


def frozen_view() -> list[Image]:
    return [textured_view()] * 40  # 2 s: OpenCV decodes a file's first frame a bit differently


def dark_view() -> list[Image]:
    return with_noise(np.full((HEIGHT, WIDTH, 3), 8, np.uint8), 10)


def flat_view() -> list[Image]:
    return with_noise(np.full((HEIGHT, WIDTH, 3), 150, np.uint8), 10, sigma=1.0)


def moved_view() -> list[Image]:
    return with_noise(shifted(textured_view(), 0.2), 10)


@pytest.mark.parametrize(
    ("condition", "bad_frames"),
    [
        (CameraCondition.FROZEN, frozen_view),
        (CameraCondition.DARK, dark_view),
        (CameraCondition.BLOCKED, flat_view),
        (CameraCondition.MOVED, moved_view),
    ],
)
async def test_health_condition_becomes_active_and_clears_when_the_view_is_normal_again(
    tmp_path: Path, health_log: HealthLog, condition: CameraCondition, bad_frames: Any
) -> None:
    good = with_noise(textured_view(), 10)
    video = write_video(tmp_path / "camera.avi", good, fps=20)
    settings = make_camera_settings(video)

    async with CameraSource(settings, on_health=health_log) as camera:

        async def has_reference() -> bool:
            return camera.reference_image is not None and camera.counters().frames_considered > 3

        await eventually(has_reference)
        write_video(tmp_path / "camera.avi", bad_frames(), fps=20)
        started = await health_log.wait_for(condition, active=True)
        assert condition in camera.active_conditions
        write_video(tmp_path / "camera.avi", good, fps=20)
        await health_log.wait_for(condition, active=False)
        assert condition not in camera.active_conditions

    assert started.camera_id == "cam1"
    assert started.at.tzinfo is not None
    assert (CameraCondition.OFFLINE.value, True) not in health_log.changes()


async def test_file_that_disappears_and_returns_resumes_and_reports_offline_then_recovered(
    tmp_path: Path, health_log: HealthLog
) -> None:
    video = write_video(tmp_path / "camera.avi", with_noise(textured_view(), 10), fps=20)
    aside = tmp_path / "aside.avi"
    settings = make_camera_settings(video)

    async with CameraSource(settings, on_health=health_log) as camera:
        before = (await take(camera, 1))[0].frame.number
        video.rename(aside)
        offline = await health_log.wait_for(CameraCondition.OFFLINE, active=True)
        aside.rename(video)
        await health_log.wait_for(CameraCondition.OFFLINE, active=False)
        after = (await take(camera, 1))[0].frame.number
        counters = camera.counters()

    assert "no such file" in offline.detail
    assert after > before
    assert counters.reconnects >= 1
    assert health_log.changes()[:2] == [("offline", True), ("offline", False)]


async def test_slow_consumer_gets_the_newest_chosen_frame_and_nothing_queues(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "moving.avi", moving_square(textured_view(), 20), fps=20)
    settings = make_camera_settings(video, detect_fps=10)

    async with CameraSource(settings) as camera:
        await take(camera, 1)
        await asyncio.sleep(1.0)  # the consumer is busy: ~10 frames are chosen meanwhile
        latest = camera.latest_frame
        item = (await take(camera, 1))[0]
        counters = camera.counters()

    assert latest is not None
    assert item.frame.number >= latest.number - 2
    assert counters.frames_skipped >= 5
    assert counters.frames_taken == 2
