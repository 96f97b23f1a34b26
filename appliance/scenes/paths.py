"""Scripted paths: where an actor's feet are at time t, in frame fractions (0..1)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

XY = tuple[float, float]


@dataclass(frozen=True)
class Key:
    """The feet are at (x, y) at time t (seconds); x, y are fractions of width and height."""

    t: float
    x: float
    y: float


@dataclass(frozen=True)
class Path:
    keys: tuple[Key, ...]

    def at(self, t: float) -> XY:
        """Position at time t; eased between keys, held before the first and after the last."""
        keys = self.keys
        if t <= keys[0].t:
            return keys[0].x, keys[0].y
        for a, b in itertools.pairwise(keys):
            if t < b.t:
                u = (t - a.t) / (b.t - a.t)
                u = u * u * (3 - 2 * u)  # smoothstep: start and stop gently
                return a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u
        return keys[-1].x, keys[-1].y


def inside(point: XY, polygon: Sequence[XY]) -> bool:
    """Even-odd rule point-in-polygon test."""
    x, y = point
    result = False
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def walk(start: float, points: Sequence[XY], speed: float) -> list[Key]:
    """Keys for walking through points from time `start` at `speed` (frame widths per second)."""
    keys = [Key(start, *points[0])]
    for x, y in points[1:]:
        last = keys[-1]
        step = float(np.hypot(x - last.x, (y - last.y) * 9 / 16))
        keys.append(Key(last.t + max(step / speed, 0.1), x, y))
    return keys


def graze(
    rng: np.random.Generator,
    start: XY,
    t0: float,
    t1: float,
    area: Sequence[XY],
    *,
    pause: tuple[float, float] = (5.0, 12.0),
    reach: float = 0.06,
    speed: float = 0.03,
    bouts: Sequence[float] = (),
) -> list[Key]:
    """Stand, take a few slow steps to a nearby spot inside `area`, stand again, until t1.

    With `bouts` (times shared by a herd) the steps start at those times, a little apart,
    and some animals sit a bout out; otherwise each pause is drawn from `pause`.
    """
    keys = [Key(t0, *start)]
    here = start
    starts = iter(
        [b + float(rng.uniform(0, 0.6)) for b in bouts if rng.random() < 0.75]
        if bouts
        else _pauses(rng, t0, t1, pause)
    )
    t = t0
    for begin in starts:
        if begin <= t:
            continue
        t = begin
        if t >= t1:
            break
        target = _nearby(rng, here, area, reach)
        step = float(np.hypot(target[0] - here[0], (target[1] - here[1]) * 9 / 16))
        keys.append(Key(t, *here))
        t += max(step / speed, 0.5)
        keys.append(Key(t, *target))
        here = target
    return keys


def _pauses(
    rng: np.random.Generator, t0: float, t1: float, pause: tuple[float, float]
) -> list[float]:
    times, t = [], t0
    while t < t1:
        t += float(rng.uniform(*pause))
        times.append(t)
    return times


def bout_times(rng: np.random.Generator, t1: float, every: tuple[float, float]) -> list[float]:
    """When a herd drifts together: one time per interval drawn from `every`."""
    return _pauses(rng, 0.0, t1, every)


def _nearby(rng: np.random.Generator, here: XY, area: Sequence[XY], reach: float) -> XY:
    for _ in range(50):
        angle = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(0.3, 1.0) * reach
        point = (here[0] + dist * np.cos(angle), here[1] + dist * np.sin(angle) * 0.6)
        if inside(point, area):
            return float(point[0]), float(point[1])
    return here


def random_point(rng: np.random.Generator, area: Sequence[XY]) -> XY:
    """A uniformly drawn point inside a polygon (by rejection from its bounding box)."""
    xs, ys = [p[0] for p in area], [p[1] for p in area]
    while True:
        point = (float(rng.uniform(min(xs), max(xs))), float(rng.uniform(min(ys), max(ys))))
        if inside(point, area):
            return point
