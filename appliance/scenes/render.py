"""Draw the frames of a plan, with the truth of what each frame shows."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from appliance.scenes import layout
from appliance.scenes.backdrop import Piece, backdrop
from appliance.scenes.imaging import Image, blend, resize, shadow, u8
from appliance.scenes.paths import XY
from appliance.scenes.presets import Actor, Plan
from appliance.scenes.sensor import Sensor
from appliance.scenes.sprites import Sprite, load_sprite
from appliance.scenes.truth import BBox, FrameTruth, ObjectBox

STILL_PX = 0.25  # feet moving less than this between frames count as standing still
SHADOW_SHARE = (0.8, 0.09)  # shadow ellipse: share of the sprite's width, of its height
LYING_SHARE = 0.6  # a lying animal shows the top of its cut-out, legs hidden in the grass
LIE_DOWN_SECONDS = 1.5
POSE_STEPS = 20  # the lying-down movement is drawn in this many steps

IdMap = np.ndarray[tuple[int, int], np.dtype[np.uint16]]


@dataclass(frozen=True)
class Frame:
    width: int
    height: int
    fps: float
    count: int
    night: bool
    seed: int


@dataclass
class Placed:
    """A sprite placed for one frame, not yet drawn."""

    walker: Walker
    depth: float
    x: int
    y: int
    bgr: Image
    alpha: Image
    area: int  # solid pixels, in view or not
    moving: bool
    order: int = 0

    @property
    def box(self) -> BBox:
        return self.x, self.y, self.x + self.alpha.shape[1], self.y + self.alpha.shape[0]


class Walker:
    """One actor: its sprite, which way it faces and whether it moved."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.sprite: Sprite = load_sprite(actor.sprite)
        self.heading = _first_heading(actor)
        self.last: tuple[XY, int] | None = None

    def flipped(self) -> bool:
        native = self.sprite.facing
        return native != "camera" and self.heading not in (None, native)

    def pose(self, t: float) -> int:
        """Steps of lying down done at t: 0 standing, POSE_STEPS lying."""
        down = self.actor.down_at
        if down is None or t <= down:
            return 0
        return min(math.floor((t - down) / LIE_DOWN_SECONDS * POSE_STEPS), POSE_STEPS)

    def place(self, t: float, width: int, height: int) -> Placed:
        x, y = self.actor.path.at(t)
        foot, pose = (x * width, y * height), self.pose(t)
        moved = self.last is not None and (
            math.dist(foot, self.last[0]) >= STILL_PX or pose != self.last[1]
        )
        if self.last is not None and abs(foot[0] - self.last[0][0]) >= STILL_PX:
            self.heading = "right" if foot[0] > self.last[0][0] else "left"
        self.last = (foot, pose)
        h = max(round(self.sprite.height_m * layout.metre(y) * height), 2)
        bgr, alpha, area = _scaled(self.sprite.name, h, self.flipped(), pose)
        left, top = round(foot[0]) - alpha.shape[1] // 2, round(foot[1]) - alpha.shape[0]
        return Placed(self, foot[1], left, top, bgr, alpha, area, moved)


def _first_heading(actor: Actor) -> str | None:
    for a, b in itertools.pairwise(actor.path.keys):
        if b.x != a.x:
            return "right" if b.x > a.x else "left"
    return None


@lru_cache(maxsize=2048)
def _scaled(name: str, h: int, flipped: bool, pose: int) -> tuple[Image, Image, int]:
    """A sprite resized to height h, mirrored, sunk into the grass by pose steps."""
    sprite = load_sprite(name)
    w = max(round(h * sprite.alpha.shape[1] / sprite.alpha.shape[0]), 2)
    bgr, alpha = resize(sprite.bgr, w, h), resize(sprite.alpha, w, h)
    if flipped:
        bgr, alpha = u8(cv2.flip(bgr, 1)), u8(cv2.flip(alpha, 1))
    if pose:
        keep = max(round(h * (1 - (1 - LYING_SHARE) * pose / POSE_STEPS)), 2)
        bgr, alpha = bgr[:keep], alpha[:keep].copy()
        fade = max(keep // 8, 1)  # grass in front of the body
        ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        alpha[-fade:] = (alpha[-fade:] * ramp).astype(np.uint8)
    return bgr, alpha, int(np.count_nonzero(alpha >= 128))


def render(plan: Plan, frame: Frame) -> Iterator[tuple[Image, FrameTruth]]:
    """Yield each frame with its truth; the frames carry the sensor look (and night)."""
    width, height = frame.width, frame.height
    scene = backdrop(width, height)
    walkers = [Walker(actor) for actor in plan.actors]
    sensor = Sensor(width, height, frame.night, np.random.default_rng([frame.seed, 1]))
    ids: IdMap = np.zeros((height, width), np.uint16)
    for index in range(frame.count):
        t = index / frame.fps
        image = scene.image.copy()
        ids[:] = 0
        placed = sorted((w.place(t, width, height) for w in walkers), key=lambda p: p.depth)
        for order, item in enumerate(placed, start=1):
            item.order = order
        for layer in _paint_order(placed, scene.pieces):
            if isinstance(layer, Piece):
                _draw_piece(image, ids, layer)
            else:
                _draw_sprite(image, ids, layer)
        counts = np.bincount(ids.ravel(), minlength=len(placed) + 1)
        objects = [_truth(item, counts, width, height) for item in placed]
        seen = sorted((obj for obj in objects if obj is not None), key=lambda o: o.track_id)
        yield sensor.apply(image), FrameTruth(frame=index, t=round(t, 4), objects=seen)


def _paint_order(placed: list[Placed], pieces: tuple[Piece, ...]) -> list[Placed | Piece]:
    """Far to near; fence pieces join only where they cover an animal behind them."""
    items: list[Placed | Piece] = list(placed)
    for piece in pieces:
        if any(p.depth < piece.depth and _overlap(p.box, piece.box) for p in placed):
            items.append(piece)
    items.sort(key=lambda item: item.depth)
    return items


def _overlap(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _draw_sprite(image: Image, ids: IdMap, item: Placed) -> None:
    h, w = item.alpha.shape
    foot_x, foot_y = item.x + w // 2, item.y + h
    shadow(image, foot_x, foot_y, round(w * SHADOW_SHARE[0]), round(h * SHADOW_SHARE[1]))
    box = blend(image, item.x, item.y, item.bgr, item.alpha)
    if box is not None:
        x1, y1, x2, y2 = box
        solid = item.alpha[y1 - item.y : y2 - item.y, x1 - item.x : x2 - item.x] >= 128
        ids[y1:y2, x1:x2][solid] = item.order


def _draw_piece(image: Image, ids: IdMap, piece: Piece) -> None:
    box = blend(image, piece.x, piece.y, piece.bgr, piece.alpha)
    if box is not None:
        x1, y1, x2, y2 = box
        solid = piece.alpha[y1 - piece.y : y2 - piece.y, x1 - piece.x : x2 - piece.x] >= 128
        ids[y1:y2, x1:x2][solid] = 0


def _truth(item: Placed, counts: np.ndarray, width: int, height: int) -> ObjectBox | None:
    x1, y1, x2, y2 = item.box
    box = (max(x1, 0), max(y1, 0), min(x2, width), min(y2, height))
    if box[0] >= box[2] or box[1] >= box[3]:
        return None
    return ObjectBox(
        track_id=item.walker.actor.track_id,
        label=item.walker.sprite.label,
        bbox=box,
        visibility=round(min(float(counts[item.order]) / max(item.area, 1), 1.0), 3),
        moving=item.moving,
    )
