"""Polygon geometry: point-in-polygon against OpenCV, and the simple-polygon checks."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.vision.polygon import points_in_polygon, polygon_problem


@st.composite
def star_polygons(draw: st.DrawFn) -> list[tuple[float, float]]:
    """Simple polygons: vertices around a centre at increasing angles, gaps under 180 degrees."""
    k = draw(st.integers(4, 16))
    cx, cy = draw(st.floats(0.3, 0.7)), draw(st.floats(0.3, 0.7))
    jitter = draw(st.lists(st.floats(0.0, 0.8), min_size=k, max_size=k))
    radii = draw(st.lists(st.floats(0.02, 0.29), min_size=k, max_size=k))
    angles = [(i + j) * 2 * math.pi / k for i, j in enumerate(jitter)]
    return [
        (cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(angles, radii, strict=True)
    ]


points = st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=40)


@given(star_polygons(), points)
@settings(max_examples=200, deadline=None)
def test_point_in_polygon_agrees_with_opencv_away_from_the_edges(polygon, pts) -> None:
    contour = np.array(polygon, dtype=np.float32).reshape(-1, 1, 2)
    distance = np.array([cv2.pointPolygonTest(contour, p, True) for p in pts])
    clear = np.abs(distance) > 1e-4  # float32 contour: judge only points clearly off an edge
    ours = points_in_polygon(np.array(pts), np.array(polygon))
    assert (ours[clear] == (distance[clear] > 0)).all()


@given(star_polygons())
@settings(max_examples=200, deadline=None)
def test_simple_polygons_pass_the_checks(polygon) -> None:
    assert polygon_problem(polygon) is None


@given(star_polygons(), st.data())
@settings(max_examples=100, deadline=None)
def test_vertex_order_does_not_change_what_is_inside(polygon, data) -> None:
    pts = np.array(data.draw(points))
    forward = points_in_polygon(pts, np.array(polygon))
    backward = points_in_polygon(pts, np.array(polygon[::-1]))
    assert (forward == backward).all()


@pytest.mark.parametrize(
    ("polygon", "problem"),
    [
        ([(0.1, 0.1), (0.5, 0.5)], "needs at least 3 points, got 2"),
        ([(0.1, 0.1), (0.5, 0.5), (0.5, 0.5), (0.1, 0.5)], "points 1 and 2 are the same"),
        ([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], "has no area"),
        ([(0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)], "edges 0-1 and 2-3 cross"),
        ([(0.1, 0.1), (0.5, 0.1), (0.3, 0.1), (0.3, 0.5)], "edges 0-1 and 1-2 fold back"),
        ([(0.1, 0.1), (0.6, 0.1), (0.6, 0.6), (0.3, 0.1), (0.1, 0.6)], "edges 0-1 and 2-3 cross"),
    ],
    ids=["two-points", "repeated-point", "collinear", "bow-tie", "fold-back", "touching"],
)
def test_broken_polygons_are_described(polygon, problem: str) -> None:
    assert problem in (polygon_problem(polygon) or "")
