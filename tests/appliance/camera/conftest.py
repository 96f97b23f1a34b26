"""Fixtures of the camera tests: fast settings, a health event log, HTTP and RTSP cameras."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from appliance.camera import CameraCondition, CameraHealthEvent, CameraSettings
from tests.appliance.camera.media import Image, jpeg, textured_view, with_noise
from tests.conftest import eventually, free_port

RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"

# quick to notice trouble and to recover, so the suite stays short
FAST: dict[str, dict[str, Any]] = {
    "health": {
        "offline_after_s": 1.0,
        "frozen_after_s": 0.6,
        "dark_after_s": 0.6,
        "blocked_after_s": 0.6,
        "moved_after_s": 0.6,
        "moved_check_interval_s": 0.2,
        "check_interval_s": 0.1,
        "clear_after_s": 0.3,
    },
    "reconnect": {
        "initial_s": 0.1,
        "max_s": 0.4,
        "open_timeout_s": 5.0,
        "read_timeout_s": 5.0,
        "stall_after_s": 10.0,
    },
}


def make_camera_settings(url: str | Path, **overrides: Any) -> CameraSettings:
    """Settings with fast health and reconnects; dict overrides of a section merge into it."""
    values: dict[str, Any] = {
        "id": "cam1",
        "url": str(url),
        "detect_fps": 10.0,
        "min_inference_interval_s": 1.0,
        **{key: dict(section) for key, section in FAST.items()},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return CameraSettings.model_validate(values)


class HealthLog:
    """An `on_health` callback that records events and waits for them."""

    def __init__(self) -> None:
        self.events: list[CameraHealthEvent] = []

    async def __call__(self, event: CameraHealthEvent) -> None:
        self.events.append(event)

    def changes(self) -> list[tuple[str, bool]]:
        return [(e.condition.value, e.active) for e in self.events]

    async def wait_for(
        self, condition: CameraCondition, active: bool, seconds: float = 15.0
    ) -> CameraHealthEvent:
        async def seen() -> bool:
            return any(e.condition is condition and e.active is active for e in self.events)

        await eventually(seen, seconds)
        return next(e for e in self.events if e.condition is condition and e.active is active)


@pytest.fixture
def health_log() -> HealthLog:
    return HealthLog()


class HttpCamera:
    """An IP camera's HTTP side on loopback: an MJPEG stream and a JPEG snapshot URL.

    `down` refuses requests (503) and ends open streams; `hang()` freezes the streams open now
    (connection kept, no more bytes) until `release()` ends them.
    """

    def __init__(self, frames: Sequence[Image], fps: float = 20.0) -> None:
        self.frames = list(frames)
        self.fps = fps
        self.port = free_port()
        self.down = False
        self.streams_opened = 0
        self._stream_ids = itertools.count(1)
        self._hang_upto = 0
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def mjpeg_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    @property
    def snapshot_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/snapshot.jpg"

    def hang(self) -> None:
        self._hang_upto = self.streams_opened

    def release(self) -> None:
        self._released.set()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/video.mjpg", self._mjpeg)
        app.router.add_get("/snapshot.jpg", self._snapshot)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.release()
        self.down = True
        if self._runner is not None:
            await self._runner.cleanup()

    async def _snapshot(self, request: web.Request) -> web.Response:
        if self.down:
            raise web.HTTPServiceUnavailable()
        index = int(asyncio.get_running_loop().time() * self.fps) % len(self.frames)
        return web.Response(body=jpeg(self.frames[index]), content_type="image/jpeg")

    async def _mjpeg(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            raise web.HTTPServiceUnavailable()
        stream_id = next(self._stream_ids)
        self.streams_opened = stream_id
        reply = web.StreamResponse(
            headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"}
        )
        await reply.prepare(request)
        with contextlib.suppress(ConnectionError):
            for i in itertools.count():
                if self.down:
                    break
                if stream_id <= self._hang_upto:
                    await self._released.wait()
                    break
                data = jpeg(self.frames[i % len(self.frames)])
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                await reply.write(head.encode() + data + b"\r\n")
                await asyncio.sleep(1.0 / self.fps)
        return reply


@pytest.fixture
async def http_camera() -> AsyncIterator[HttpCamera]:
    camera = HttpCamera(with_noise(textured_view(), 10))
    await camera.start()
    yield camera
    await camera.stop()


class RtspCamera:
    """GStreamer's RTSP server (run by the system python3) on a fixed loopback port."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"rtsp://127.0.0.1:{port}/cam"
        self._log_path = log_path
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                SYSTEM_PYTHON,
                str(RTSP_SERVER),
                "--port",
                str(self.port),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdout is not None
        async with asyncio.timeout(20):
            line = await self._process.stdout.readline()
        assert line.strip() == b"ready", f"RTSP server did not start: {self._log_path.read_text()}"

    async def kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None


@pytest.fixture
async def rtsp_camera(tmp_path: Path) -> AsyncIterator[RtspCamera]:
    camera = RtspCamera(free_port(), tmp_path / "rtsp_server.log")
    await camera.start()
    yield camera
    await camera.kill()
