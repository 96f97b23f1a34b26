"""Writing frames to an MP4 file that OpenCV (FFmpeg) reads back."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import cv2

from appliance.scenes.errors import VideoWriteError
from appliance.scenes.imaging import Image

FOURCC = "mp4v"  # MPEG-4 Part 2: OpenCV's bundled FFmpeg writes it; it cannot write H.264


class VideoWriter:
    """A context manager around cv2.VideoWriter that fails loudly."""

    def __init__(self, path: Path, fps: float, width: int, height: int) -> None:
        self.path = path
        self.size = (width, height)
        fourcc = cv2.VideoWriter.fourcc(*FOURCC)
        self._writer = cv2.VideoWriter(str(path), fourcc, fps, self.size)
        if not self._writer.isOpened():
            raise VideoWriteError(f"{path}: OpenCV cannot write {FOURCC} MP4 here")
        self.frames = 0

    def write(self, frame: Image) -> None:
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise VideoWriteError(f"frame {frame.shape[1]}x{frame.shape[0]}, video {self.size}")
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()
        if not self.path.exists() or self.path.stat().st_size == 0:
            raise VideoWriteError(f"{self.path}: nothing was written")

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self._writer.release()
