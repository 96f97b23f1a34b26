"""Writing media files (blocking: run these in a thread, never on the event loop).

Clips are H.264 (libx264 from PyAV's bundled FFmpeg) in MP4 with the index up front
(`+faststart`) and yuv420p pixels, which every browser plays. Timestamps are the frames'
capture times in milliseconds from the first frame, so a clip keeps real time even when the
camera dropped frames. A file is written under a temporary name, flushed to disk and renamed,
so a file that exists under its final name is complete.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from appliance.camera.frames import Image
from appliance.media.errors import EncodeError
from appliance.media.overlay import OverlayBox, OverlayZone, draw_overlay
from appliance.media.ring import BufferedFrame
from contracts import MediaKind

MS = Fraction(1, 1000)
CLIP_CONTENT_TYPE = "video/mp4"
SNAPSHOT_CONTENT_TYPE = "image/jpeg"


@dataclass(frozen=True)
class ClipOptions:
    fps: float
    crf: int
    preset: str
    threads: int


@dataclass(frozen=True)
class WrittenFile:
    size_bytes: int
    sha256: str


def encode_clip(frames: list[BufferedFrame], path: Path, options: ClipOptions) -> WrittenFile:
    """Write `frames` (oldest first, JPEG) as an H.264 MP4 at `path`."""
    if not frames:
        raise EncodeError("a clip needs at least one frame")
    first = _decode(frames[0].jpeg)
    height, width = first.shape[:2]
    width, height = width - width % 2, height - height % 2  # yuv420p needs even sides
    part = _part(path)
    try:
        container = av.open(
            str(part),
            mode="w",
            format="mp4",
            options={"movflags": "+faststart"},
        )
        try:
            start = datetime.fromtimestamp(frames[0].captured_at, UTC)
            container.metadata["creation_time"] = start.isoformat()
            container.metadata["comment"] = f"byre started_at={start.isoformat()}"
            stream = container.add_stream("libx264", rate=max(1, round(options.fps)))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = MS
            stream.options = {
                "crf": str(options.crf),
                "preset": options.preset,
                "threads": str(options.threads),
            }
            for pts, image in _timed(frames, first):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame = frame.reformat(width=width, height=height, format="yuv420p")
                frame.pts, frame.time_base = pts, MS
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        finally:
            container.close()
        return _finish(part, path)
    except (av.FFmpegError, OSError, ValueError) as err:
        part.unlink(missing_ok=True)
        raise EncodeError(f"cannot write clip {path.name}: {err}") from err


def write_snapshot(
    image: Image,
    boxes: list[OverlayBox],
    zones: list[OverlayZone],
    path: Path,
    quality: int,
) -> WrittenFile:
    """Write `image` with its boxes and zones drawn as a JPEG at `path`."""
    ok, data = cv2.imencode(
        ".jpg", draw_overlay(image, boxes, zones), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise EncodeError(f"cannot encode snapshot {path.name}")
    part = _part(path)
    try:
        with part.open("wb") as out:
            out.write(data.tobytes())
        return _finish(part, path)
    except OSError as err:
        part.unlink(missing_ok=True)
        raise EncodeError(f"cannot write snapshot {path.name}: {err}") from err


def read_back(path: Path, kind: MediaKind) -> tuple[WrittenFile, float]:
    """Size, hash and length (s from the first frame) of a complete file; `EncodeError` if
    it is missing or unreadable."""
    try:
        data = path.read_bytes()
        if kind is MediaKind.SNAPSHOT:
            _decode(data)
            length = 0.0
        else:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                times = [
                    float(p.pts * p.time_base)
                    for p in container.demux(stream)
                    if p.pts is not None and p.time_base is not None
                ]
            if not times:
                raise EncodeError(f"clip {path.name} has no frames")
            length = max(times)
    except (av.FFmpegError, OSError, IndexError) as err:
        raise EncodeError(f"cannot read {path.name}: {err}") from err
    return WrittenFile(len(data), hashlib.sha256(data).hexdigest()), length


def decode_jpeg(data: bytes) -> Image:
    return _decode(data)


def _timed(frames: list[BufferedFrame], first: Image) -> Iterator[tuple[int, Image]]:
    """Each frame's pixels with its pts (ms from the first frame, strictly increasing)."""
    t0 = frames[0].captured_at
    last = -1
    for index, item in enumerate(frames):
        pts = max(last + 1, round((item.captured_at - t0) * 1000))
        last = pts
        image = first if index == 0 else _decode(item.jpeg)
        if image.shape != first.shape:  # the camera changed resolution mid-clip
            image = np.asarray(cv2.resize(image, (first.shape[1], first.shape[0])), np.uint8)
        yield pts, image


def _decode(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise EncodeError("a buffered frame is not a readable JPEG")
    return np.asarray(image, dtype=np.uint8)


def _part(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(path.name + ".part")


def _finish(part: Path, path: Path) -> WrittenFile:
    """Flush `part` to disk, hash it and rename it to `path`."""
    digest = hashlib.sha256()
    size = 0
    with part.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(f.fileno())
    os.replace(part, path)
    return WrittenFile(size, digest.hexdigest())
