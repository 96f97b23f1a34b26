"""What the camera adds: sensor noise, and the dark, bluish, grainy look of night."""

from __future__ import annotations

import cv2
import numpy as np

from appliance.scenes.imaging import Image, u8

DAY_NOISE = 1.5  # standard deviation, grey levels
NIGHT_NOISE = 7.0
NIGHT_GAIN_BGR = (0.42, 0.30, 0.22)  # dark, with blue kept most
NIGHT_COLOUR = 0.25  # share of colour kept; the rest is grey (eyes and sensors lose colour)
NIGHT_LIFT_BGR = (10, 6, 4)
BANK = 4  # noise frames drawn up front and reused at random offsets
MARGIN = 16

_GREY_BGR = np.array([0.114, 0.587, 0.299], np.float32)


def night_matrix() -> np.ndarray[tuple[int, int], np.dtype[np.float32]]:
    rows = [
        gain * ((1 - NIGHT_COLOUR) * _GREY_BGR + NIGHT_COLOUR * np.eye(3, dtype=np.float32)[c])
        for c, gain in enumerate(NIGHT_GAIN_BGR)
    ]
    return np.stack(rows).astype(np.float32)


class Sensor:
    """Applies the camera look to each frame, deterministically from its generator."""

    def __init__(self, width: int, height: int, night: bool, rng: np.random.Generator) -> None:
        self.night = night
        self._rng = rng
        self._matrix = night_matrix()
        self._lift = np.full((height, width, 3), NIGHT_LIFT_BGR, np.uint8)
        sigma = NIGHT_NOISE if night else DAY_NOISE
        shape = (BANK, height + MARGIN, width + MARGIN, 3)
        noise = rng.normal(0.0, sigma, shape).astype(np.float32)
        self._up = np.clip(noise, 0, 255).astype(np.uint8)
        self._down = np.clip(-noise, 0, 255).astype(np.uint8)
        self._size = (width, height)

    def apply(self, frame: Image) -> Image:
        if self.night:
            frame = u8(cv2.add(cv2.transform(frame, self._matrix), self._lift))
        width, height = self._size
        k = int(self._rng.integers(BANK))
        dx, dy = (int(v) for v in self._rng.integers(MARGIN, size=2))
        up = self._up[k, dy : dy + height, dx : dx + width]
        down = self._down[k, dy : dy + height, dx : dx + width]
        return u8(cv2.subtract(cv2.add(frame, up), down))
