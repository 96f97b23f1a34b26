"""Blocking frame sources: OpenCV's FFmpeg backend (RTSP, MJPEG, files), V4L2 (USB), snapshots.

Each `Capture` is used by one reader thread: `read()` blocks until the next frame and raises
`CameraReadError` when the source stops; `open_capture` raises `CameraOpenError`.
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from appliance.camera.errors import CameraOpenError, CameraReadError
from appliance.camera.frames import Image
from appliance.camera.settings import CameraKind, CameraSettings

SNAPSHOT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_FILE_FPS = 25.0
DEFAULT_SNAPSHOT_FPS = 1.0


class Capture(Protocol):
    pace_interval: float | None
    """Seconds between frames the reader should wait for (files, snapshots); None: don't pace."""

    def read(self) -> Image: ...

    def release(self) -> None: ...


def open_capture(settings: CameraSettings) -> Capture:
    """Open the camera's source (blocking); raises `CameraOpenError` naming the reason."""
    kind = settings.source_kind
    timeouts = settings.reconnect
    if kind is CameraKind.FILE:
        return FileCapture(settings.url, settings.fps, settings.realtime, settings.display_url)
    if kind is CameraKind.SNAPSHOT:
        return SnapshotCapture(
            settings.url, settings.fps, timeouts.read_timeout_s, settings.display_url
        )
    if kind is CameraKind.USB:
        device: int | str = int(settings.url) if settings.url.isdigit() else settings.url
        return StreamCapture(device, cv2.CAP_V4L2, [], settings.display_url)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        round(timeouts.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        round(timeouts.read_timeout_s * 1000),
    ]
    return StreamCapture(settings.url, cv2.CAP_FFMPEG, params, settings.display_url)


def _open_video(source: int | str, api: int, params: list[int], label: str) -> cv2.VideoCapture:
    try:
        cap = cv2.VideoCapture(source, api, params) if params else cv2.VideoCapture(source, api)
    except cv2.error as err:
        raise CameraOpenError(f"cannot open {label}: {err}") from err
    if not cap.isOpened():
        cap.release()
        raise CameraOpenError(f"cannot open {label}")
    return cap


class StreamCapture:
    """A live stream or device: frames come at the source's own pace."""

    pace_interval: float | None = None

    def __init__(self, source: int | str, api: int, params: list[int], label: str) -> None:
        self._label = label
        self._cap = _open_video(source, api, params, label)

    def read(self) -> Image:
        ok, image = self._cap.read()
        if not ok or image is None:
            raise CameraReadError(f"{self._label}: stream ended or timed out")
        return _as_image(image)

    def release(self) -> None:
        self._cap.release()


class FileCapture:
    """A video file played in a loop; it is reopened at each end, so a replaced file is picked up
    and a removed one shows as a failure."""

    def __init__(self, path: str, fps: float | None, realtime: bool, label: str) -> None:
        self._path = path.removeprefix("file://")
        self._label = label
        self._cap = self._open()
        file_fps = self._cap.get(cv2.CAP_PROP_FPS)
        if fps is None:
            fps = file_fps if math.isfinite(file_fps) and 0 < file_fps <= 240 else DEFAULT_FILE_FPS
        self.fps = fps
        self.pace_interval = 1.0 / fps if realtime else None

    def _open(self) -> cv2.VideoCapture:
        if not Path(self._path).is_file():
            raise CameraOpenError(f"cannot open {self._label}: no such file")
        return _open_video(self._path, cv2.CAP_FFMPEG, [], self._label)

    def read(self) -> Image:
        ok, image = self._cap.read()
        if ok and image is not None:
            return _as_image(image)
        self._cap.release()
        try:
            self._cap = self._open()
        except CameraOpenError as err:
            raise CameraReadError(f"{self._label}: reopening at the end failed: {err}") from err
        ok, image = self._cap.read()
        if not ok or image is None:
            raise CameraReadError(f"{self._label}: the file has no frames")
        return _as_image(image)

    def release(self) -> None:
        self._cap.release()


class SnapshotCapture:
    """An HTTP URL that returns one JPEG per request, polled at `fps` (basic or digest auth from
    the URL's user part)."""

    def __init__(self, url: str, fps: float | None, timeout_s: float, label: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        self._url = urlunsplit(parts._replace(netloc=netloc))
        self._label = label
        self._timeout = timeout_s
        handlers: list[urllib.request.BaseHandler] = []
        if parts.username is not None:
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, self._url, parts.username, parts.password or "")
            handlers += [
                urllib.request.HTTPBasicAuthHandler(passwords),
                urllib.request.HTTPDigestAuthHandler(passwords),
            ]
        self._opener = urllib.request.build_opener(*handlers)
        self.pace_interval: float | None = 1.0 / (fps or DEFAULT_SNAPSHOT_FPS)
        try:
            self._first: Image | None = self._fetch()
        except CameraReadError as err:
            raise CameraOpenError(str(err)) from err

    def _fetch(self) -> Image:
        try:
            with self._opener.open(self._url, timeout=self._timeout) as reply:
                data = reply.read(SNAPSHOT_MAX_BYTES + 1)
        except (OSError, urllib.error.URLError) as err:
            raise CameraReadError(f"{self._label}: {err}") from err
        if len(data) > SNAPSHOT_MAX_BYTES:
            raise CameraReadError(f"{self._label}: snapshot larger than {SNAPSHOT_MAX_BYTES} bytes")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise CameraReadError(f"{self._label}: the reply is not an image")
        return _as_image(image)

    def read(self) -> Image:
        if self._first is not None:
            image, self._first = self._first, None
            return image
        return self._fetch()

    def release(self) -> None:
        self._first = None


def _as_image(image: object) -> Image:
    """OpenCV's frame as a BGR uint8 H x W x 3 array (grey frames are expanded)."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = np.asarray(cv2.cvtColor(array, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:
        raise CameraReadError(f"unexpected frame shape {array.shape}")
    return array
