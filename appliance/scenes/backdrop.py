"""The static part of a scene: the pasture photo, a dirt track and the pen fence."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from appliance.scenes import layout
from appliance.scenes.errors import AssetError
from appliance.scenes.imaging import Image, blend, resize, u8
from appliance.scenes.paths import XY
from appliance.scenes.sprites import ASSETS
from appliance.scenes.truth import BBox

POST_HEIGHT_M = 1.2
POST_SPACING_M = 3.0
WIRE_LEVELS = (0.55, 0.9)  # wire heights as a share of the post
WIRE_RUN_PX = 12  # wires are split into runs this tall, each drawn at its own depth
POST_BGR = (70, 92, 112)
WIRE_BGR = (214, 220, 222)


@cache
def _photo() -> Image:
    path = ASSETS / "background.jpg"
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AssetError(f"{path}: missing or unreadable")
    return u8(image)


@dataclass(frozen=True)
class Piece:
    """A bit of fence, kept apart so it can be drawn again over animals behind it."""

    depth: float  # foot y in pixels: larger is nearer the camera
    x: int
    y: int
    bgr: Image
    alpha: Image

    @property
    def box(self) -> BBox:
        return self.x, self.y, self.x + self.alpha.shape[1], self.y + self.alpha.shape[0]


@dataclass(frozen=True)
class Backdrop:
    image: Image
    pieces: tuple[Piece, ...]


def backdrop(width: int, height: int) -> Backdrop:
    """The pasture at the requested size, with the track and pen fence drawn in."""
    image = resize(_photo(), width, height)
    _draw_track(image)
    pieces = _side_fence(width, height)
    for piece in pieces:
        blend(image, piece.x, piece.y, piece.bgr, piece.alpha)
    return Backdrop(image, tuple(pieces))


def _px(image: Image, point: XY) -> tuple[int, int]:
    return round(point[0] * image.shape[1]), round(point[1] * image.shape[0])


def _draw_track(image: Image) -> None:
    """A worn dirt track: the grass texture, browned and lightened, with soft edges."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    polygon = np.array([_px(image, p) for p in layout.TRACK.polygon], np.int32)
    cv2.fillPoly(mask, [polygon], 255)
    mask = u8(cv2.GaussianBlur(mask, (0, 0), max(width / 400, 1.0)))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    dirt = np.dstack((grey * 0.55 + 38, grey * 0.7 + 48, grey * 0.8 + 62))
    share = mask.astype(np.float32)[..., None] / 255 * 0.85
    mixed = image.astype(np.float32) * (1 - share) + dirt * share
    image[:] = np.clip(mixed, 0, 255).astype(np.uint8)


def _fence_posts() -> list[tuple[float, XY]]:
    """(share along the side fence in the image, foot point) of each post, every few metres."""
    (x1, y1), (x2, y2) = layout.SIDE_FENCE
    near, far = layout.to_ground((x2, y2)), layout.to_ground((x1, y1))
    count = max(round(math.dist(near, far) / POST_SPACING_M), 1)
    posts = []
    for i in range(count + 1):
        ground = (far[0] + (near[0] - far[0]) * i / count, far[1] + (near[1] - far[1]) * i / count)
        foot = layout.to_image(ground)
        posts.append(((foot[1] - y1) / (y2 - y1), foot))
    gate_a, gate_b = layout.GATE_SPAN
    posts = [p for p in posts if not gate_a - 0.03 < p[0] < gate_b + 0.03]
    posts += [(gate_a, layout.on_side_fence(gate_a)), (gate_b, layout.on_side_fence(gate_b))]
    return sorted(posts)


def _side_fence(width: int, height: int) -> list[Piece]:
    posts = _fence_posts()
    gate_a, gate_b = layout.GATE_SPAN
    pieces = []

    def top(point: XY, level: float) -> XY:
        x, y = point[0] * width, point[1] * height
        return x, y - level * POST_HEIGHT_M * layout.metre(point[1]) * height

    # Wires in short runs (each with its own depth); none across the open gate.
    for (ua, a), (ub, b) in itertools.pairwise(posts):
        if ua >= gate_a and ub <= gate_b:
            continue
        runs = max(math.ceil((b[1] - a[1]) * height / WIRE_RUN_PX), 1)
        thick = 1 if layout.metre(b[1]) * height < 60 else 2
        for i in range(runs):
            p = (a[0] + (b[0] - a[0]) * i / runs, a[1] + (b[1] - a[1]) * i / runs)
            q = (a[0] + (b[0] - a[0]) * (i + 1) / runs, a[1] + (b[1] - a[1]) * (i + 1) / runs)
            lines = [(top(p, level), top(q, level)) for level in WIRE_LEVELS]
            pieces.append(_wire(lines, thick, depth=q[1] * height))
    for u, foot in posts:
        metre_px = layout.metre(foot[1]) * height
        h = max(round(POST_HEIGHT_M * metre_px), 2)
        w = max(round(0.12 * metre_px * (1.5 if u in (gate_a, gate_b) else 1.0)), 2)
        bgr = np.empty((h, w, 3), np.uint8)
        bgr[:] = POST_BGR
        bgr[:, (2 * w) // 3 :] = tuple(int(c * 0.7) for c in POST_BGR)
        alpha = np.full((h, w), 255, np.uint8)
        x, y = round(foot[0] * width) - w // 2, round(foot[1] * height) - h
        pieces.append(Piece(foot[1] * height, x, y, bgr, alpha))
    return pieces


def _wire(lines: list[tuple[XY, XY]], thick: int, depth: float) -> Piece:
    xs = [x for line in lines for x, _ in line]
    ys = [y for line in lines for _, y in line]
    x0, y0 = math.floor(min(xs)) - 2, math.floor(min(ys)) - 2
    w, h = math.ceil(max(xs)) + 3 - x0, math.ceil(max(ys)) + 3 - y0
    alpha = np.zeros((h, w), np.uint8)
    for (ax, ay), (bx, by) in lines:
        start, end = (round(ax - x0), round(ay - y0)), (round(bx - x0), round(by - y0))
        cv2.line(alpha, start, end, 255, thick, cv2.LINE_AA)
    bgr = np.empty((h, w, 3), np.uint8)
    bgr[:] = WIRE_BGR
    return Piece(depth, x0, y0, bgr, alpha)
