"""Detect requests: frames cross shared memory intact, cameras are multiplexed by request id."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from appliance.inference import InferFailed, InvalidFrame, PluginState, UnknownPlugin
from tests.appliance.inference.conftest import MakeRunner, make_frame, make_settings
from tests.appliance.inference.test_plugins import expected_label, mark


@pytest.mark.parametrize("seed", [1, 2])
async def test_frame_arrives_intact_through_shared_memory_at_720p(
    make_runner: MakeRunner, seed: int
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}))
    frame = make_frame(720, 1280, seed)

    result = await started.runner.detect("cam-1", frame)

    assert [d.label for d in result.detections] == [expected_label(frame)]
    assert result.detections[0].label.startswith("1280x720-")
    assert result.infer_ms > 0


async def test_a_strided_view_is_sent_as_the_pixels_it_shows(make_runner: MakeRunner) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}))
    view = make_frame(720, 1280, 3)[::2, ::2]

    result = await started.runner.detect("cam-1", view)

    assert result.detections[0].label == expected_label(np.ascontiguousarray(view))


async def test_concurrent_requests_from_many_cameras_get_their_own_answers(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}))
    frames = {f"cam-{i}": make_frame(360, 640, seed=i) for i in range(8)}

    results = await asyncio.gather(
        *(started.runner.detect(camera, frame) for camera, frame in frames.items())
    )

    labels = [r.detections[0].label for r in results]
    assert labels == [expected_label(frame) for frame in frames.values()]


async def test_a_camera_changing_resolution_keeps_getting_answers(make_runner: MakeRunner) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}))
    small, large = make_frame(480, 640, 4), make_frame(720, 1280, 5)

    first = await started.runner.detect("cam-1", small)
    second = await started.runner.detect("cam-1", large)
    third = await started.runner.detect("cam-1", small)

    assert [first.detections[0].label, second.detections[0].label, third.detections[0].label] == [
        expected_label(small),
        expected_label(large),
        expected_label(small),
    ]


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(np.zeros((720, 1280, 3), dtype=np.float32), id="float"),
        pytest.param(np.zeros((720, 1280), dtype=np.uint8), id="grey"),
        pytest.param(np.zeros((720, 1280, 4), dtype=np.uint8), id="bgra"),
        pytest.param(np.zeros((0, 1280, 3), dtype=np.uint8), id="empty"),
    ],
)
async def test_a_frame_that_is_not_bgr_uint8_is_refused(
    make_runner: MakeRunner, frame: np.ndarray
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}))
    with pytest.raises(InvalidFrame, match="frame must be"):
        await started.runner.detect("cam-1", frame)


async def test_an_unknown_plugin_name_is_an_error_listing_the_configured_ones(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes"}))
    with pytest.raises(UnknownPlugin, match=r"'coco'.*\['fake-boxes'\]"):
        await started.runner.detect("cam-1", make_frame(), plugin="coco")


async def test_an_exception_in_infer_fails_that_request_only(make_runner: MakeRunner) -> None:
    started = await make_runner(make_settings({"type": "raises"}))
    pid = started.runner.status()["raises"].pid
    frame = make_frame(seed=6)

    with pytest.raises(InferFailed, match="cannot make sense of this frame"):
        await started.runner.detect("cam-1", mark(frame))
    result = await started.runner.detect("cam-1", frame)

    assert result.detections[0].label == expected_label(frame)
    status = started.runner.status()["raises"]
    assert (status.state, status.pid, status.restarts) == (PluginState.READY, pid, 0)


@pytest.mark.parametrize(("resize", "size"), [("stretch", (320, 240)), ("letterbox", (320, 180))])
async def test_a_frame_crosses_at_the_plugins_own_first_resize(
    make_runner: MakeRunner, resize: str, size: tuple[int, int]
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes", "fit": resize}))
    frame = make_frame(720, 1280, 7)

    result = await started.runner.detect("cam-1", frame)

    resized = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    assert [d.label for d in result.detections] == [expected_label(resized)]


async def test_a_frame_smaller_than_the_plugins_input_crosses_as_it_is(
    make_runner: MakeRunner,
) -> None:
    started = await make_runner(make_settings({"type": "fake-boxes", "fit": "letterbox"}))
    frame = make_frame(120, 160, 8)

    result = await started.runner.detect("cam-1", frame)

    assert [d.label for d in result.detections] == [expected_label(frame)]
