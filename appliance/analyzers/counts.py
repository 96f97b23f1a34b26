"""Rules that count animals in a zone: head-count drop (fewer than expected) and crowding
(more than normal)."""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise
from typing import ClassVar, Literal

from pydantic import Field

from appliance.analyzers.base import ANIMALS, Analyzer, AnalyzerConfig, Finding, Scene
from appliance.analyzers.escape import OUT_MIN, WHOLE_HEIGHT, zone_polygon
from appliance.analyzers.steady import (
    PART_OF,
    SAME_DEPTH,
    Run,
    area,
    covered,
    edge_distance,
    hold_end,
    inside,
    whole,
)
from appliance.vision.tracker import (
    MOVING_MAX_AGE_S,
    Box,
    Track,
    on_the_move,
    position_before,
)
from contracts import FarmEvent, FarmEventKind, Severity

DEPARTED_S = 30.0  # a drop follows an animal seen leaving at most this long before it
AT_EDGE = 0.05  # of the frame: a box this near the side or bottom of the view is leaving it
SIGHTINGS = 3  # frames a lost animal was seen on in its last seconds to be judged walking
GRID = 8  # points a side sampled to tell how much of a box other boxes cover
RECOUNT_AFTER_S = 0.01  # a frame this long after its `edge_s` ran out no longer counts it
LEAVING_WITHIN = 1.5  # box widths: lost walking to the edge of the view this near, it left
BACKDATE_S = 1.0  # a crowd is timed from its last animal's first sighting this long ago at most
HIDDEN_BY = 0.5  # share of a lost box under a box seen now at its depth: it is that box
SPLIT_S = 3.0  # boxes splitting the box an animal filled this recently are that animal
CROSSING_GAP_S = 2.5  # looks this far apart bound a crossing (a camera looks every 2 s at least)
JUMP_WIDTHS = 1.5  # box widths between two sightings of a track: another animal, not a walk


def _animals_in_zones(scene: Scene, labels: list[str]) -> dict[str, list[Track]]:
    """Whole animals per zone, seen now or lost for a moment (the tracker keeps those a few
    seconds: a detection missed on a frame does not lower the count, a box split in two does
    not raise it)."""
    kept = [t for t in [*scene.update.confirmed, *scene.update.lost] if t.label in labels]
    by_zone: dict[str, list[Track]] = {}
    for track in whole(kept):
        for zone in scene.zones.zones_of(track.id):
            by_zone.setdefault(zone, []).append(track)
    return by_zone


def _crowded_since(scene: Scene, zone: str, animals: list[Track], limit: int) -> float:
    """When the zone came to hold more than `limit` of `animals`: the moment the last of them
    needed crossed in, before the zone debounce confirmed it (at most `BACKDATE_S` ago: an
    animal long in the zone, counted only now, does not cut the hold short)."""
    entries = sorted(
        scene.t
        if (at := scene.zones.entered_at(t.id, zone)) is None
        else _crossed(scene, t, zone, at)
        for t in animals
    )
    return max(entries[limit], scene.t - BACKDATE_S)


def _crossed(scene: Scene, track: Track, zone: str, at: float) -> float:
    """When the track's anchor crossed into the zone it was first seen inside at `at`: between
    the sighting before and that one, in proportion to how far each lay from the zone's edge
    (a moving animal is inferred every few tenths of a second; it crossed in between)."""
    before = next((p for p in reversed(track.history) if p.t < at), None)
    first = next((p for p in track.history if p.t >= at), None)
    if before is None or first is None or first.t - before.t > CROSSING_GAP_S:
        return at
    ax, ay = track.anchor(scene.zones.settings.anchor)
    dx, dy = ax - track.centre[0], ay - track.centre[1]  # the history holds box centres
    polygon = zone_polygon(scene, zone)
    out, into = (before.x + dx, before.y + dy), (first.x + dx, first.y + dy)
    if inside(out, polygon):
        return at
    d_out, d_in = edge_distance(out, polygon), edge_distance(into, polygon)
    return before.t + (first.t - before.t) * d_out / max(d_out + d_in, 1e-9)


def _at_edge(track: Track) -> bool:
    x1, _, x2, y2 = track.box
    return x1 <= AT_EDGE or x2 >= 1 - AT_EDGE or y2 >= 1 - AT_EDGE


def _to_edge(point: tuple[float, float], heading: tuple[float, float]) -> float:
    """How far `point` is from the side or bottom edge of the view along `heading`."""
    (px, py), (hx, hy) = point, heading
    length = math.hypot(hx, hy)
    if length == 0:
        return math.inf
    ux, uy = hx / length, hy / length
    steps = [-px / ux if ux < 0 else (1 - px) / ux if ux > 0 else math.inf]
    steps.append((1 - py) / uy if uy > 0 else math.inf)
    return max(0.0, min(steps))


def _walking_out(track: Track, width: float | None) -> bool:
    """Whether the track was last seen walking toward the side or bottom edge of the view
    with at most `LEAVING_WITHIN` box widths to go (its own, or `width`, an animal's, if that
    is less: a box over the herd is wider). The detector often loses an animal walking out
    before its box reaches the edge; one it stops seeing where it stands is not walking."""
    past = position_before(track, track.last_seen)
    if past is None or not _seen_walking(track):
        return False
    x, y = track.centre
    x1, _, x2, y2 = track.box
    size = x2 - x1 if width is None else min(width, x2 - x1)
    return _to_edge(((x1 + x2) / 2, y2), (x - past.x, y - past.y)) <= LEAVING_WITHIN * size


def _out_of_view(track: Track, width: float | None) -> bool:
    """Whether a lost track was last seen leaving the view: at its edge, or walking out."""
    return _at_edge(track) or _walking_out(track, width)


def _between(track: Track, animals: list[Track]) -> bool:
    """Whether most of the box (`PART_OF`, sampled on a grid) lies under other animals'
    boxes standing at its depth: a second box over parts of two animals side by side, not an
    animal (one hidden between them would stand farther back)."""
    x1, y1, x2, y2 = track.box
    near = [
        o.box
        for o in animals
        if o is not track and o.label == track.label and abs(o.box[3] - y2) <= SAME_DEPTH
    ]
    if len(near) < 2:
        return False
    points = [
        (x1 + (x2 - x1) * (i + 0.5) / GRID, y1 + (y2 - y1) * (j + 0.5) / GRID)
        for i in range(GRID)
        for j in range(GRID)
    ]
    under = sum(any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in near) for x, y in points)
    return under >= PART_OF * len(points)


def _clearly_out(scene: Scene, track: Track, zone: str) -> bool:
    """Whether the track's anchor is `OUT_MIN` or more outside the zone (at night the head
    box of a cow at the back of the pen flickers across the fence line)."""
    polygon = zone_polygon(scene, zone)
    anchor = track.anchor(scene.zones.settings.anchor)
    return not inside(anchor, polygon) and edge_distance(anchor, polygon) >= OUT_MIN


def _behind(track: Track, animals: list[Track]) -> bool:
    """Whether the lost track, short of the edge of the view, lies mostly (`HIDDEN_BY`) under
    an animal seen now at its depth: it went behind that animal, it did not walk out of view."""
    return not _at_edge(track) and any(
        o.id != track.id
        and covered(track.box, o.box) >= HIDDEN_BY
        and abs(track.box[3] - o.box[3]) <= SAME_DEPTH
        for o in animals
    )


def _seen_walking(track: Track) -> bool:
    """Whether the lost track was on the move when last seen, and seen on `SIGHTINGS` frames or
    more in its last `MOVING_MAX_AGE_S` (the pipeline infers often while something moves; a box
    at night seen twice a few seconds apart, in two places, is no walk)."""
    t = track.last_seen
    recent = sum(1 for p in track.history if t - p.t <= MOVING_MAX_AGE_S)
    return recent >= SIGHTINGS and on_the_move(track, t)


def _jumped(track: Track) -> bool:
    """Whether the track's box jumped, in its last `MOVING_MAX_AGE_S`, more than `JUMP_WIDTHS`
    of its width between two sightings: the tracker gave it another animal's box (at night a
    box in the pen, missed for two seconds, is matched to an animal grazing outside it). A box
    cut by the edge of the view is narrower than its animal: nothing to judge a step by."""
    if _at_edge(track):
        return False
    x1, _, x2, _ = track.box
    limit = JUMP_WIDTHS * (x2 - x1)
    recent = [p for p in track.history if track.last_seen - p.t <= MOVING_MAX_AGE_S]
    return any(math.hypot(b.x - a.x, b.y - a.y) > limit for a, b in pairwise(recent))


def _over_several(track: Track, boxes: list[Track]) -> bool:
    """Whether two or more other boxes of its label lie mostly inside the track's box: it is
    a box over several animals (at night the detector boxes the herd, and parts of it)."""
    inner = [
        o
        for o in boxes
        if o is not track and o.label == track.label and covered(o.box, track.box) >= PART_OF
    ]
    return len(inner) >= 2


def _animal_width(animals: list[Track]) -> float | None:
    """The median box width of the whole animals seen now (None: none is seen)."""
    widths = sorted(t.box[2] - t.box[0] for t in animals)
    return widths[len(widths) // 2] if widths else None


class HeadcountConfig(AnalyzerConfig):
    type: Literal["headcount"] = "headcount"
    expected: dict[str, int] = Field(description="Zone name -> animals expected in it.")
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    hold_s: float = Field(default=60.0, ge=0, description="A drop must last this long.")
    gap_s: float = Field(
        default=0.0,
        ge=0,
        description="A full count seen for at most this long does not end a drop (0: any full "
        "count ends it; part boxes are not counted, so a full count is rarely seen by mistake).",
    )
    edge_s: float = Field(
        default=1.0,
        ge=0,
        description="An animal lost at the edge of the view counts this much longer (the "
        "detector loses it while it is still partly in view).",
    )
    needs_departure: bool = Field(
        default=True,
        description="Report a drop only if an animal was seen leaving the zone (walking out of "
        "it, or out of view: lost at the edge of the frame or walking to it) since shortly "
        "before the count fell; animals the detector stops seeing in the middle of the pen (at "
        "night) are no drop.",
    )


class HeadcountAnalyzer(Analyzer):
    """Fewer animals in a pen than expected for longer than `hold_s`: the full count has not
    been seen for that long, after it was seen at least once (a camera that never sees the
    whole herd, e.g. at night, reports no drop).

    Counted are the whole animals seen now (a part box, a second box on one animal, one
    lying mostly over two animals standing side by side at its depth, or a row of boxes
    splitting an animal seen whole a moment ago, is not another animal)
    and those the tracker still keeps lost: an animal missed for a moment inside the pen is
    not a drop. A lost box is not counted when it was a part box, when a box seen now at its
    depth covers it (it is that box, under a new id), or when it was last seen leaving the
    view more than `edge_s` ago: at its edge, or walking to it with about a body width to go
    (it walked out of sight; the rule asks for a look when that time is up, see `due`).

    With `needs_departure`, an animal must also have been seen leaving, at most `DEPARTED_S`
    before the count fell: a whole animal seen in the zone and then, walking, well outside it
    (`OUT_MIN`, with a box about as tall as inside: not its head bobbing over the fence), or
    lost leaving the view after it was seen walking on several frames (`SIGHTINGS`: not a
    box at night seen twice, seconds apart) and not lost under an animal standing at its
    depth short of the edge (it went behind that one). A box once seen over several animals (two or
    more boxes inside it: the herd boxed as one at night) is never an animal leaving, nor is
    a track whose box jumped by more than `JUMP_WIDTHS` of its width between two sightings
    (the tracker gave it another animal's box)."""

    key: ClassVar[str] = "headcount"
    config_model: ClassVar[type[AnalyzerConfig]] = HeadcountConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        assert isinstance(config, HeadcountConfig)
        self._low = {zone: Run(config.gap_s) for zone in config.expected}
        self._full: set[str] = set()  # zones seen with the full count: only those can drop
        self._part: set[int] = set()  # tracks that were a part box when last seen
        # zone -> the whole animals seen in it, by track, with their box height there
        self._inside: dict[str, dict[int, float]] = {zone: {} for zone in config.expected}
        self._left: dict[str, float] = {}  # zone -> when an animal was last seen leaving it
        self._recount: float | None = None  # when a lost animal leaving the view stops counting
        self._group: set[int] = set()  # tracks once seen as a box over several animals
        self._filled: dict[int, tuple[Box, float]] = {}  # track -> largest recent box, when

    def _count(
        self, scene: Scene, config: HeadcountConfig, seen: list[Track], whole_seen: list[Track]
    ) -> Counter[str]:
        animals = list(whole_seen)
        width = _animal_width(whole_seen)
        self._part -= {t.id for t in animals} | {t.id for t in scene.update.removed}
        self._part |= {t.id for t in seen} - {t.id for t in animals}
        kept = [
            t
            for t in scene.update.lost
            if t.label in config.labels
            and t.id not in self._part
            and not any(
                covered(t.box, s.box) >= HIDDEN_BY and abs(t.box[3] - s.box[3]) <= SAME_DEPTH
                for s in seen
            )
        ]
        leaving = {t.id for t in kept if _out_of_view(t, width)}
        animals += [
            t for t in kept if t.id not in leaving or scene.t - t.last_seen <= config.edge_s
        ]
        ends = [t.last_seen + config.edge_s for t in kept if t.id in leaving]
        self._recount = min([e for e in ends if e >= scene.t], default=None)
        return Counter(z for t in animals for z in scene.zones.zones_of(t.id))

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, HeadcountConfig)
        boxes = [t for t in scene.update.confirmed if t.label in config.labels]
        animals = whole(boxes)  # a part box, or a second box on one animal, is no animal
        animals = [t for t in animals if not _between(t, animals)]
        animals = self._unsplit(scene, animals)
        counts = self._count(scene, config, boxes, animals)
        self._group |= {t.id for t in animals if _over_several(t, boxes)}
        self._note_departures(scene, [t for t in animals if t.id not in self._group])
        self._group -= {t.id for t in scene.update.removed}
        found = []
        for zone, expected in config.expected.items():
            seen = counts[zone]
            if seen >= expected:
                self._full.add(zone)
            since = self._low[zone].update(scene.t, seen < expected)
            left = self._left.get(zone)
            if (
                zone in self._full
                and since is not None
                and seen < expected
                and scene.t - since >= config.hold_s
                and (
                    not config.needs_departure or (left is not None and left >= since - DEPARTED_S)
                )
            ):
                found.append(
                    Finding(
                        self.correlation(zone),
                        FarmEvent(
                            kind=FarmEventKind.HEADCOUNT_DROP,
                            severity=Severity.WARNING,
                            summary=f"{seen} of {expected} animals in the {zone}",
                            camera_id=self.camera_id,
                            zone=zone,
                            attributes={"seen": seen, "expected": expected},
                        ),
                    )
                )
        return found

    def _unsplit(self, scene: Scene, animals: list[Track]) -> list[Track]:
        """The animals without the boxes that split one animal seen whole a moment ago: two or
        more boxes, each under half its size, lying mostly inside the box one animal filled
        in the last `SPLIT_S` are that animal (the back cows of a herd turning their heads
        are boxed as a row of heads). The largest stays if that animal's own track has
        shrunk to one of them; none does if its track is lost (the tracker counts it)."""
        t = scene.t
        self._filled = {k: v for k, v in self._filled.items() if t - v[1] <= SPLIT_S}
        lost = {track.id for track in scene.update.lost}
        dropped: set[int] = set()
        for owner, (box, _) in self._filled.items():
            inner = [
                a
                for a in animals
                if area(a.box) <= 0.5 * area(box) and covered(a.box, box) >= PART_OF
            ]
            if len(inner) < 2 and not (inner and owner in lost):
                continue
            keep = None if owner in lost else max(inner, key=lambda a: area(a.box))
            dropped |= {a.id for a in inner if a is not keep}
        kept = [a for a in animals if a.id not in dropped]
        for a in kept:
            old = self._filled.get(a.id)
            if old is None or area(a.box) >= area(old[0]):
                self._filled[a.id] = (a.box, t)
        return kept

    def _note_departures(self, scene: Scene, animals: list[Track]) -> None:
        """Follow the whole animals seen in each zone; note when one walks out of it or is
        lost leaving the view while on the move (boxes over the herd are not passed in)."""
        width = _animal_width(animals)
        for zone, inside_now in self._inside.items():
            for track in animals:
                height = track.box[3] - track.box[1]
                if zone in scene.zones.zones_of(track.id):
                    inside_now[track.id] = height
                elif track.id in inside_now and _clearly_out(scene, track, zone):
                    # a lower box is the top of the animal seen over the fence, not all of it
                    tall = height >= WHOLE_HEIGHT * inside_now.pop(track.id)
                    if tall and on_the_move(track, scene.t) and not _jumped(track):
                        self._left[zone] = scene.t
            for track in [*scene.update.lost, *scene.update.removed]:
                if track.id in self._group:
                    inside_now.pop(track.id, None)
                elif track.id in inside_now and _out_of_view(track, width):
                    del inside_now[track.id]
                    walked = _seen_walking(track) and not _jumped(track)
                    if walked and not _behind(track, animals):
                        self._left[zone] = track.last_seen
            for track in scene.update.removed:
                inside_now.pop(track.id, None)

    def due(self, now: float) -> float | None:
        """When a drop being timed becomes reportable or, if sooner, just after a lost animal
        last seen leaving the view stops counting (the count is seen to fall on time, not at
        the next frame motion or the minimum rate has inferred)."""
        config = self.config
        assert isinstance(config, HeadcountConfig)
        runs = [r for z, r in self._low.items() if z in self._full]
        ends = [hold_end(runs, config.hold_s, now)]
        if self._full and self._recount is not None:
            ends.append(self._recount + RECOUNT_AFTER_S)
        return min([e for e in ends if e is not None and e > now], default=None)


class CrowdingConfig(AnalyzerConfig):
    type: Literal["crowding"] = "crowding"
    max_animals: dict[str, int] = Field(description="Zone name -> most animals that is normal.")
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    hold_s: float = Field(default=30.0, ge=0, description="Crowding must last this long.")
    gap_s: float = Field(
        default=4.0,
        ge=0,
        description="A count at or below the limit for at most this long, and for no longer "
        "than the crowd was seen before it, does not end crowding (animals in a crowd hide "
        "each other; a crowd seen for a frame is a second box on one animal).",
    )


class CrowdingAnalyzer(Analyzer):
    """More animals at a gate or trough than normal for longer than `hold_s`; part boxes of an
    animal are not counted, short dips of the count are bridged."""

    key: ClassVar[str] = "crowding"
    config_model: ClassVar[type[AnalyzerConfig]] = CrowdingConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        assert isinstance(config, CrowdingConfig)
        self._over = {zone: Run(config.gap_s, proven=True) for zone in config.max_animals}

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, CrowdingConfig)
        in_zones = _animals_in_zones(scene, config.labels)
        found = []
        for zone, limit in config.max_animals.items():
            animals = in_zones.get(zone, [])
            seen = len(animals)
            began = _crowded_since(scene, zone, animals, limit) if seen > limit else None
            since = self._over[zone].update(scene.t, seen > limit, began)
            if since is not None and seen > limit and scene.t - since >= config.hold_s:
                found.append(
                    Finding(
                        self.correlation(zone),
                        FarmEvent(
                            kind=FarmEventKind.CROWDING,
                            severity=Severity.WARNING,
                            summary=f"{seen} animals crowding the {zone}",
                            camera_id=self.camera_id,
                            zone=zone,
                            attributes={"seen": seen, "limit": limit},
                        ),
                    )
                )
        return found

    def due(self, now: float) -> float | None:
        config = self.config
        assert isinstance(config, CrowdingConfig)
        return hold_end(list(self._over.values()), config.hold_s, now)
