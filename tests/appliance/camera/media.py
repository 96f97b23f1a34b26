"""Small generated test videos: a textured view, sensor noise, a moving square, dark frames."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
WIDTH, HEIGHT = 320, 240


def textured_view(seed: int = 7, width: int = WIDTH, height: int = HEIGHT) -> Image:
    """A view with plenty of edges: coloured rectangles on grey."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 110, np.uint8)
    for _ in range(40):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(5, 60)), int(rng.integers(5, 60))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
    return image


def with_noise(image: Image, count: int, sigma: float = 3.0, seed: int = 1) -> list[Image]:
    """`count` copies of `image` with fresh sensor-like noise each (a live but still view)."""
    rng = np.random.default_rng(seed)
    return [
        np.clip(image.astype(np.float32) + rng.normal(0, sigma, image.shape), 0, 255).astype(
            np.uint8
        )
        for _ in range(count)
    ]


def moving_square(image: Image, count: int, size: int = 40) -> list[Image]:
    """`image` with a white square crossing it left to right, plus noise."""
    frames = with_noise(image, count)
    height, width = image.shape[:2]
    for i, frame in enumerate(frames):
        x = int((width - size) * i / max(1, count - 1))
        cv2.rectangle(frame, (x, height // 3), (x + size, height // 3 + size), (255, 255, 255), -1)
    return frames


def numbered(count: int) -> list[Image]:
    """Frames whose grey level encodes their index (index * 20), to see the file loop."""
    return [np.full((HEIGHT, WIDTH, 3), 20 * i + 10, np.uint8) for i in range(count)]


def shifted(image: Image, fraction: float) -> Image:
    """The same view panned sideways by `fraction` of its width."""
    return np.roll(image, int(image.shape[1] * fraction), axis=1)


def write_video(path: Path, frames: Sequence[Image], fps: float = 10.0) -> Path:
    """Write an MJPG AVI that OpenCV's FFmpeg backend reads back."""
    height, width = frames[0].shape[:2]
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    tmp.replace(path)  # atomic: a reader never sees a half-written file
    return path


def jpeg(image: Image) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data.tobytes())
