"""Polygon geometry for zones: point-in-polygon (vectorised) and simple-polygon checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from appliance.vision.geometry import Array

XY = tuple[float, float]


def points_in_polygon(points: Array, polygon: Array) -> NDArray[np.bool_]:
    """Which of `points` (N, 2) lie inside `polygon` (M, 2), by the even-odd rule.

    A point exactly on an edge may fall either way; zones are judged on anchor points, where
    that does not matter.
    """
    x = points[:, 0:1]
    y = points[:, 1:2]
    xi, yi = polygon[:, 0], polygon[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    straddles = (yi > y) != (yj > y)
    dy = np.where(yj == yi, 1.0, yj - yi)  # rows where it is 0 never straddle
    x_cross = xi + (y - yi) * (xj - xi) / dy
    crossings = np.count_nonzero(straddles & (x < x_cross), axis=1)
    inside: NDArray[np.bool_] = (crossings % 2) == 1
    return inside


def signed_area(polygon: Sequence[XY]) -> float:
    """Shoelace area: positive when the vertices run counter-clockwise (y up)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        total += x1 * y2 - x2 * y1
    return total * 0.5


def polygon_problem(polygon: Sequence[XY]) -> str | None:
    """Why `polygon` is not a simple polygon with area, or None if it is."""
    n = len(polygon)
    if n < 3:
        return f"needs at least 3 points, got {n}"
    for i in range(n):
        if polygon[i] == polygon[(i + 1) % n]:
            return f"points {i} and {(i + 1) % n} are the same"
    if all(_orient(polygon[0], polygon[1], p) == 0 for p in polygon[2:]):
        return "has no area (its points are on one line)"
    edges = [(polygon[i], polygon[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            adjacent = j == i + 1 or (i == 0 and j == n - 1)
            a, b = edges[i]
            c, d = edges[j]
            if adjacent:
                shared, p, q = (b, a, d) if j == i + 1 else (a, b, c)
                if _folds_back(shared, p, q):
                    return f"edges {_edge(i, n)} and {_edge(j, n)} fold back over each other"
            elif _segments_touch(a, b, c, d):
                return f"edges {_edge(i, n)} and {_edge(j, n)} cross"
    if abs(signed_area(polygon)) < 1e-12:
        return "has no area"
    return None


def _edge(i: int, n: int) -> str:
    return f"{i}-{(i + 1) % n}"


def _orient(a: XY, b: XY, c: XY) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: XY, b: XY, p: XY) -> bool:
    """p (collinear with a-b) lies within the segment's bounding box."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_touch(a: XY, b: XY, c: XY, d: XY) -> bool:
    """Segments a-b and c-d share at least one point."""
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if _opposite(o1, o2) and _opposite(o3, o4):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def _opposite(a: float, b: float) -> bool:
    return a > 0 > b or a < 0 < b


def _folds_back(shared: XY, p: XY, q: XY) -> bool:
    """Edges shared-p and shared-q lie on one line pointing the same way (overlap)."""
    if _orient(shared, p, q) != 0:
        return False
    dot = (p[0] - shared[0]) * (q[0] - shared[0]) + (p[1] - shared[1]) * (q[1] - shared[1])
    return dot > 0
