"""Small image operations on uint8 BGR arrays."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def u8(array: object) -> Image:
    """Type an OpenCV result as the uint8 image it is (the stubs say any number type)."""
    return cast(Image, array)


SHADOW_DEPTH = 0.45  # darkest point of a ground shadow, as a share of brightness removed


def resize(image: Image, width: int, height: int) -> Image:
    """Resize with area interpolation when shrinking, linear when enlarging."""
    shrink = width * height < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return u8(cv2.resize(image, (width, height), interpolation=interpolation))


def clip_box(
    x: int, y: int, w: int, h: int, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """Intersect a box with the frame; None when nothing is left."""
    x1, y1 = max(x, 0), max(y, 0)
    x2, y2 = min(x + w, width), min(y + h, height)
    if x1 >= x2 or y1 >= y2:
        return None
    return x1, y1, x2, y2


def blend(
    frame: Image, x: int, y: int, bgr: Image, alpha: Image
) -> tuple[int, int, int, int] | None:
    """Alpha-blend a sprite with its top-left corner at (x, y); return the visible box."""
    h, w = alpha.shape
    box = clip_box(x, y, w, h, frame.shape[1], frame.shape[0])
    if box is None:
        return None
    x1, y1, x2, y2 = box
    sx, sy = x1 - x, y1 - y
    a = alpha[sy : sy + y2 - y1, sx : sx + x2 - x1]
    src = bgr[sy : sy + y2 - y1, sx : sx + x2 - x1]
    roi = frame[y1:y2, x1:x2]
    a3 = cv2.merge((a, a, a))
    # roi * (255 - a) / 255 + src * a / 255, in saturating uint8 arithmetic
    fg = cv2.multiply(src, a3, scale=1 / 255)
    bg = cv2.multiply(roi, cv2.bitwise_not(a3), scale=1 / 255)
    roi[:] = cv2.add(fg, bg)
    return box


def shadow(frame: Image, cx: int, cy: int, w: int, h: int) -> None:
    """Darken a soft ellipse on the ground centred at (cx, cy)."""
    w, h = max(w, 2), max(h, 2)
    x, y = cx - w // 2, cy - h // 2
    box = clip_box(x, y, w, h, frame.shape[1], frame.shape[0])
    if box is None:
        return
    x1, y1, x2, y2 = box
    mask = _shadow_mask(w, h)[y1 - y : y2 - y, x1 - x : x2 - x]
    roi = frame[y1:y2, x1:x2]
    keep = cv2.merge((mask, mask, mask))
    roi[:] = cv2.multiply(roi, keep, scale=1 / 255)


@lru_cache(maxsize=512)
def _shadow_mask(w: int, h: int) -> Image:
    """255 where no shadow falls, down to (1 - SHADOW_DEPTH) * 255 at the centre."""
    soft = resize(_ellipse(), w, h).astype(np.float32) / 255
    out: Image = (255 * (1 - SHADOW_DEPTH * soft)).astype(np.uint8)
    return out


@lru_cache(maxsize=1)
def _ellipse() -> Image:
    big = np.zeros((64, 128), np.uint8)
    cv2.ellipse(big, (64, 32), (54, 22), 0, 0, 360, 255, -1)
    return u8(cv2.GaussianBlur(big, (0, 0), 7))
