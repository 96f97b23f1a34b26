"""The farm seen by the camera: ground perspective, fences and zones, in frame fractions.

The background is the top 16:9 of cow.jpg: trees, a maize field, then pasture with a real
electric fence whose foot runs along y = 0.47. The pen is the ground in front of that fence and
left of a post-and-wire fence drawn from (0.56, 0.47) to (0.74, 1.0), with an open gate in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.scenes.paths import XY
from appliance.scenes.truth import ZoneKind

HORIZON = 0.255  # vanishing line, fitted to the cows and fence posts of the photo
CAMERA_HEIGHT_M = 2.5  # above flat ground
FOCAL = 1.54  # focal length in frame heights (about 60 degrees across a 16:9 frame)
ASPECT = 16 / 9
FAR_FENCE_Y = 0.47  # foot of the electric fence in the photo

SIDE_FENCE: tuple[XY, XY] = ((0.56, FAR_FENCE_Y), (0.74, 1.0))
GATE_SPAN = (0.33, 0.50)  # share of the side fence, from its far end, that is an open gate


def metre(y: float) -> float:
    """Frame-height fraction that one metre spans for an object standing at y."""
    return max(y - HORIZON, 0.0) / CAMERA_HEIGHT_M


def to_ground(point: XY) -> XY:
    """Image point (frame fractions, below the horizon) -> ground (across, ahead) in metres."""
    x, y = point
    ahead = FOCAL * CAMERA_HEIGHT_M / max(y - HORIZON, 1e-6)
    return (x - 0.5) * ASPECT * ahead / FOCAL, ahead


def to_image(ground: XY) -> XY:
    across, ahead = ground
    return 0.5 + across * FOCAL / (ahead * ASPECT), HORIZON + FOCAL * CAMERA_HEIGHT_M / ahead


def on_side_fence(u: float) -> XY:
    """Point at share u (0 far end, 1 near end) along the side fence."""
    (x1, y1), (x2, y2) = SIDE_FENCE
    return x1 + (x2 - x1) * u, y1 + (y2 - y1) * u


def side_fence_x(y: float) -> float:
    (x1, y1), (x2, y2) = SIDE_FENCE
    return x1 + (x2 - x1) * (y - y1) / (y2 - y1)


@dataclass(frozen=True)
class ZoneSpec:
    name: str
    kind: ZoneKind
    polygon: tuple[XY, ...]


def _gate_polygon() -> tuple[XY, ...]:
    (ax, ay), (bx, by) = on_side_fence(GATE_SPAN[0]), on_side_fence(GATE_SPAN[1])
    return ((ax - 0.025, ay), (ax + 0.025, ay), (bx + 0.025, by), (bx - 0.025, by))


PEN = ZoneSpec("pen", "pen", ((0.0, FAR_FENCE_Y), SIDE_FENCE[0], SIDE_FENCE[1], (0.0, 1.0)))
PASTURE = ZoneSpec(
    "pasture", "pasture", (SIDE_FENCE[0], (1.0, FAR_FENCE_Y), (1.0, 1.0), SIDE_FENCE[1])
)
GATE = ZoneSpec("gate", "gate", _gate_polygon())


def _track_polygon() -> tuple[XY, ...]:
    """A 2 m dirt track on the ground, from a gap in the far fence towards the camera."""
    (fx, fd), (nx, nd) = TRACK_ENDS
    steps = 12
    centre = [(fx + (nx - fx) * i / steps, fd + (nd - fd) * i / steps) for i in range(steps + 1)]
    left = [to_image((x - TRACK_HALF_WIDTH_M, d)) for x, d in centre]
    right = [to_image((x + TRACK_HALF_WIDTH_M, d)) for x, d in centre]
    return clip_to_frame([*left, *reversed(right)], top=FAR_FENCE_Y)


def clip_to_frame(polygon: list[XY], top: float = 0.0) -> tuple[XY, ...]:
    """Sutherland-Hodgman clip of a polygon to the frame (from `top` down)."""
    edges = [(0, 0.0, True), (0, 1.0, False), (1, top, True), (1, 1.0, False)]
    points = polygon
    for axis, limit, keep_above in edges:
        out: list[XY] = []
        for i, cur in enumerate(points):
            prev = points[i - 1]
            cur_in = (cur[axis] >= limit) == keep_above
            prev_in = (prev[axis] >= limit) == keep_above
            if cur_in != prev_in:
                share = (limit - prev[axis]) / (cur[axis] - prev[axis])
                out.append(
                    (prev[0] + (cur[0] - prev[0]) * share, prev[1] + (cur[1] - prev[1]) * share)
                )
            if cur_in:
                out.append(cur)
        points = out
    return tuple((round(x, 4), round(y, 4)) for x, y in points)


TRACK_ENDS: tuple[XY, XY] = ((8.5, 18.0), (2.8, 4.0))  # (across, ahead) of its centre line, m
TRACK_HALF_WIDTH_M = 1.0
TRACK = ZoneSpec("track", "road", _track_polygon())
RESTRICTED = ZoneSpec(
    "gate_apron", "restricted", ((0.64, 0.56), (0.78, 0.56), (0.84, 0.86), (0.71, 0.86))
)
ZONES = (PEN, PASTURE, GATE, TRACK, RESTRICTED)

# Where feet may wander while grazing, kept clear of fences so bodies stay on their side.
PEN_GRAZE: tuple[XY, ...] = ((0.06, 0.52), (0.46, 0.52), (0.50, 0.74), (0.06, 0.74))
PASTURE_GRAZE: tuple[XY, ...] = ((0.74, 0.53), (0.86, 0.53), (0.86, 0.72), (0.78, 0.72))
