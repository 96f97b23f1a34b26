"""Network sources on loopback: MJPEG and snapshot over HTTP, RTSP from GStreamer, USB."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from appliance.camera import CameraCondition, CameraKind, CameraSource
from tests.appliance.camera.conftest import HealthLog, HttpCamera, RtspCamera, make_camera_settings
from tests.appliance.camera.media import HEIGHT, WIDTH
from tests.conftest import eventually


async def frames_read_beyond(camera: CameraSource, count: int, seconds: float = 15.0) -> None:
    async def enough() -> bool:
        return camera.counters().frames_read > count

    await eventually(enough, seconds)


def reader_threads(camera_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"camera-{camera_id}-")]


@pytest.mark.parametrize("kind", [CameraKind.MJPEG, CameraKind.SNAPSHOT])
async def test_http_camera_delivers_its_frames(http_camera: HttpCamera, kind: CameraKind) -> None:
    url = http_camera.mjpeg_url if kind is CameraKind.MJPEG else http_camera.snapshot_url
    settings = make_camera_settings(url, fps=10)

    async with CameraSource(settings) as camera:
        await frames_read_beyond(camera, 5)
        frame = camera.latest_frame

    assert settings.source_kind is kind
    assert frame is not None
    assert frame.image.shape == (HEIGHT, WIDTH, 3)
    assert abs(float(np.mean(frame.image)) - float(np.mean(http_camera.frames[0]))) < 3


@pytest.mark.parametrize("kind", [CameraKind.MJPEG, CameraKind.SNAPSHOT])
async def test_http_camera_that_goes_down_and_returns_reports_offline_then_recovered(
    http_camera: HttpCamera, health_log: HealthLog, kind: CameraKind
) -> None:
    url = http_camera.mjpeg_url if kind is CameraKind.MJPEG else http_camera.snapshot_url
    settings = make_camera_settings(url, fps=10)

    async with CameraSource(settings, on_health=health_log) as camera:
        await frames_read_beyond(camera, 3)
        http_camera.down = True
        offline = await health_log.wait_for(CameraCondition.OFFLINE, active=True)
        read_while_down = camera.counters().frames_read
        http_camera.down = False
        await health_log.wait_for(CameraCondition.OFFLINE, active=False)
        await frames_read_beyond(camera, read_while_down + 3)

    assert "503" in offline.detail or "cannot open" in offline.detail
    assert health_log.changes() == [("offline", True), ("offline", False)]


async def test_watchdog_reopens_a_hung_stream_in_a_fresh_thread(http_camera: HttpCamera) -> None:
    settings = make_camera_settings(
        http_camera.mjpeg_url, id="hung", reconnect={"stall_after_s": 1.0, "read_timeout_s": 60.0}
    )

    async with CameraSource(settings) as camera:
        await frames_read_beyond(camera, 3)
        http_camera.hang()
        read_when_hung = camera.counters().frames_read
        await frames_read_beyond(camera, read_when_hung + 5)
        counters = camera.counters()
        threads = reader_threads("hung")
        http_camera.release()

    assert counters.watchdog_restarts == 1
    assert counters.hung_threads == 1
    assert http_camera.streams_opened == 2
    assert len(threads) == 2  # the hung one and its replacement


async def test_watchdog_does_not_pile_up_hung_threads_beyond_the_cap(
    http_camera: HttpCamera, health_log: HealthLog
) -> None:
    settings = make_camera_settings(
        http_camera.mjpeg_url,
        id="capped",
        reconnect={"stall_after_s": 0.5, "read_timeout_s": 60.0, "max_hung_threads": 0},
    )

    async with CameraSource(settings, on_health=health_log) as camera:
        await frames_read_beyond(camera, 3)
        http_camera.hang()
        await health_log.wait_for(CameraCondition.OFFLINE, active=True)
        await asyncio.sleep(1.0)  # two more watchdog periods: still no replacement thread
        hung = camera.counters()
        threads_while_hung = len(reader_threads("capped"))
        http_camera.release()  # the hung read returns, its thread ends
        await health_log.wait_for(CameraCondition.OFFLINE, active=False)
        recovered = camera.counters()

    assert hung.watchdog_restarts == 1
    assert threads_while_hung == 1
    assert http_camera.streams_opened == 2
    assert recovered.hung_threads == 0
    assert recovered.frames_read > hung.frames_read


async def test_rtsp_camera_that_disappears_and_returns_resumes_without_a_new_source(
    rtsp_camera: RtspCamera, health_log: HealthLog
) -> None:
    # opening an RTSP stream takes FFmpeg ~1 s of probing: not offline yet
    settings = make_camera_settings(rtsp_camera.url, health={"offline_after_s": 3.0})

    async with CameraSource(settings, on_health=health_log) as camera:
        await frames_read_beyond(camera, 5, seconds=30)
        first = camera.latest_frame
        await rtsp_camera.kill()
        await health_log.wait_for(CameraCondition.OFFLINE, active=True)
        read_while_down = camera.counters().frames_read
        await rtsp_camera.start()
        await health_log.wait_for(CameraCondition.OFFLINE, active=False, seconds=30)
        await frames_read_beyond(camera, read_while_down + 5)
        last = camera.latest_frame
        counters = camera.counters()

    assert settings.source_kind is CameraKind.RTSP
    assert first is not None
    assert last is not None
    assert first.image.shape == (240, 320, 3)
    assert last.number > first.number
    assert counters.reconnects >= 1
    assert health_log.changes() == [("offline", True), ("offline", False)]


async def test_missing_usb_camera_is_reported_offline_with_the_reason(
    health_log: HealthLog,
) -> None:
    settings = make_camera_settings("/dev/video63")

    async with CameraSource(settings, on_health=health_log):
        offline = await health_log.wait_for(CameraCondition.OFFLINE, active=True)

    assert settings.source_kind is CameraKind.USB
    assert "cannot open /dev/video63" in offline.detail
