"""What the analyzers trust of a flickering detector: whole animals and conditions with gaps.

The detector at 5 fps splits a partly hidden animal into several boxes (a head, a back) and
misses an animal for a frame or a few. `whole` drops the part boxes; `Run` tells since when a
condition seen frame by frame holds, bridging breaks shorter than its gap.
"""

from __future__ import annotations

import math

from appliance.vision.tracker import Box, Track

PART_OF = 0.6  # share of a box inside a bigger box of the same label: a part of that animal
SAME_DEPTH = 0.1  # of the frame: boxes whose bottoms are this close stand about as far away


def covered(inner: Box, outer: Box) -> float:
    """Share of `inner`'s area that lies inside `outer`."""
    width = min(inner[2], outer[2]) - max(inner[0], outer[0])
    height = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    if width <= 0 or height <= 0 or area <= 0:
        return 0.0
    return width * height / area


def area(box: Box) -> float:
    """A box's area (frame units)."""
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    inner = covered(a, b) * area(a)
    union = area(a) + area(b) - inner
    return inner / union if union > 0 else 0.0


def whole(tracks: list[Track]) -> list[Track]:
    """The tracks that are not a part of a bigger box of the same label."""
    return [
        t
        for t in tracks
        if not any(
            o is not t
            and o.label == t.label
            and area(o.box) > area(t.box)
            and covered(t.box, o.box) >= PART_OF
            for o in tracks
        )
    ]


class Run:
    """Since when a condition seen frame by frame holds; a break up to `gap_s` long is bridged.

    `update` returns the time of the first frame of the current run, or None once the
    condition has not been seen for longer than `gap_s` (at once with a gap of 0). With
    `proven`, a break is bridged only while it is also no longer than the run before it: a
    blip of the condition does not hold a run open until the condition really starts."""

    def __init__(self, gap_s: float, proven: bool = False) -> None:
        self.gap_s = gap_s
        self.proven = proven
        self.since: float | None = None
        self.last: float | None = None

    def update(self, t: float, holds: bool, began: float | None = None) -> float | None:
        """`began`: when the condition seen at `t` really started, if known (not after `t`). A
        later frame of the run may put the start earlier (a better look at the same start)."""
        if holds:
            if self.since is None:
                self.since = t if began is None else min(began, t)
            elif began is not None:
                self.since = min(self.since, began)
            self.last = t
        elif self.last is None or t - self.last > self._gap(self.last):
            self.since = self.last = None
        return self.since

    def _gap(self, last: float) -> float:
        if not self.proven or self.since is None:
            return self.gap_s
        return min(self.gap_s, last - self.since)


def hold_end(runs: list[Run], hold_s: float, now: float) -> float | None:
    """The earliest moment after `now` at which one of `runs` will have held for `hold_s`."""
    ends = [r.since + hold_s for r in runs if r.since is not None and r.since + hold_s > now]
    return min(ends, default=None)


def edge_distance(point: tuple[float, float], polygon: list[tuple[float, float]]) -> float:
    """Distance from `point` to the nearest edge of `polygon` (frame units)."""
    px, py = point
    best = math.inf
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        dx, dy = x2 - x1, y2 - y1
        length = dx * dx + dy * dy
        share = (
            0.0 if length == 0 else max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / length))
        )
        best = min(best, math.hypot(px - x1 - share * dx, py - y1 - share * dy))
    return best


def inside(point: tuple[float, float], polygon: list[tuple[float, float]]) -> bool:
    """Whether `point` lies inside `polygon` (even-odd rule)."""
    px, py = point
    hit = False
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit
