"""The built-in analyzers."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass
from datetime import time
from typing import ClassVar, Literal

from pydantic import Field

from appliance.analyzers.base import ANIMALS, Analyzer, AnalyzerConfig, Finding, Scene
from appliance.analyzers.steady import (
    PART_OF,
    Run,
    covered,
    edge_distance,
    hold_end,
    inside,
    iou,
    whole,
)
from appliance.vision.tracker import MOVING_MAX_AGE_S, MOVING_WINDOW_S, Track, on_the_move
from appliance.vision.zones import ZoneKind
from contracts import FarmEvent, FarmEventKind, Severity

OUT_BY = 0.15  # of the box height: an anchor this far past the edge is not a cut-off box
OUT_MIN = 0.04  # of the frame: nor is one this far
OUT_WHOLE = 0.01  # of the frame: a box of the animal's full height this far past the edge is out
FULL_HEIGHT = 0.85  # of its typical height inside: a box this tall is not cut short
WHOLE_HEIGHT = 0.55  # of its height inside: a lower box is the animal's top seen over another
SAME_ANIMAL_S = 5.0  # a new track where one was lost this long ago continues it
SAME_DEPTH = 0.1  # of the frame: boxes whose bottoms are this close stand about as far away
SAME_BOX = 0.5  # IoU: a predator box this much on a herd animal's box is that animal


def _herd_zones() -> list[ZoneKind]:
    return ["pen", "pasture", "calving_pen"]


def _road_zones() -> list[ZoneKind]:
    return ["road"]


def _restricted_zones() -> list[ZoneKind]:
    return ["restricted", "calving_pen"]


class EscapeConfig(AnalyzerConfig):
    type: Literal["escape"] = "escape"
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    home_kinds: list[ZoneKind] = Field(
        default_factory=_herd_zones,
        description="Zones an animal belongs in.",
    )
    road_kinds: list[ZoneKind] = Field(
        default_factory=_road_zones, description="Zones where an animal is in danger."
    )


@dataclass
class _Home:
    rank: int  # strictness: index of the zone's kind in `home_kinds`
    zone: str
    animal: int  # the track id the animal was first seen under: one case through new ids
    seen: float = 0.0
    centre: tuple[float, float] = (0.0, 0.0)
    diagonal: float = 0.0
    height: float = 0.0  # its typical box height with the anchor inside the home zone
    deep: bool = False  # its anchor was once well inside the zone (not only along its edge)


def _typical(typical: float, height: float) -> float:
    """The typical box height after one more box: quick to rise to a whole animal's box (a
    part seen first), slow to fall to boxes cut short by something in front."""
    if typical <= 0:
        return height
    return typical + (height - typical) * (0.5 if height > typical else 0.1)


def _polygon(scene: Scene, zone: str) -> list[tuple[float, float]]:
    return next(z.points for z in scene.zones.settings.zones if z.name == zone)


def _jumped(track: Track, home: _Home) -> bool:
    """The track's box moved farther than its size (the smaller of the last and this box)
    since the last frame: the tracker gave its id to another animal (boxes far apart on sparse
    dark frames, or a box over several animals followed by one of a single animal)."""
    x1, y1, x2, y2 = track.box
    size = min(home.diagonal, math.hypot(x2 - x1, y2 - y1))
    return math.dist(home.centre, track.centre) > size


class EscapeAnalyzer(Analyzer):
    """An animal out of its zone: it was first seen in a home zone (the strictest one, in
    the order of `home_kinds`) and is now clearly outside it, and not in a zone at least as
    strict (escape, fence breach); or an animal on a road.

    Home zones are judged by the anchor in the frame at hand (not the zone monitor's
    debounced membership): the margin past the edge does the debouncing. The detector merges
    and splits boxes of animals side by side, so one animal passing the fence may change
    track ids: a new track of about its size that starts where a track with a home was lost
    a moment ago continues that animal (the lost track keeps its home too, in case it is
    found again), and an animal out right where another one was reported out a moment ago
    is the same case."""

    key: ClassVar[str] = "escape"
    config_model: ClassVar[type[AnalyzerConfig]] = EscapeConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        self._home: dict[int, _Home] = {}  # track id -> home
        self._known: set[int] = set()
        self._ended: set[int] = set()  # removed by the tracker; homes kept a moment for new ids
        self._out: dict[int, _Home] = {}  # animal -> where and when it was last reported out

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, EscapeConfig)
        found = []
        seen = scene.tracks(config.labels)
        now = {t.id for t in seen}  # part boxes too: such a track is not lost
        for track in whole(seen):  # a part box's anchor is not the feet
            anchor = track.anchor(scene.zones.settings.anchor)
            ranked = sorted(
                (config.home_kinds.index(z.kind), z.name)
                for z in scene.zones.settings.zones
                if z.kind in config.home_kinds and inside(anchor, z.points)
            )
            height = track.box[3] - track.box[1]
            home = self._home.get(track.id)
            if track.id not in self._known or (home is not None and _jumped(track, home)):
                self._known.add(track.id)
                home = self._new_home(track, scene.t, ranked, now)
                self._home.pop(track.id, None)
                if home is not None:
                    self._home[track.id] = home
            if home is not None:
                home.seen, home.centre = scene.t, track.centre
                home.diagonal = math.hypot(track.box[2] - track.box[0], height)
                if any(z == home.zone for _, z in ranked):
                    home.height = _typical(home.height, height)
                    polygon = _polygon(scene, home.zone)
                    home.deep = home.deep or edge_distance(anchor, polygon) >= OUT_MIN
            roads = scene.zones_of_kind(track, config.road_kinds)
            if roads:
                found.append(
                    self._finding(
                        FarmEventKind.ANIMAL_ON_ROAD, track, roads[0], Severity.CRITICAL, "road"
                    )
                )
            elif (
                home is not None
                and (not ranked or ranked[0][0] > home.rank)
                and height >= WHOLE_HEIGHT * home.height
                and self._clearly_out(scene, track, home)
            ):
                self._same_case(home, scene.t)
                found.append(
                    self._finding(
                        FarmEventKind.ESCAPE, track, home.zone, Severity.WARNING, home.zone, home
                    )
                )
        removed = {t.id for t in scene.update.removed}
        self._known -= removed  # track ids are never reused
        self._ended = {i for i in self._ended | removed if i in self._home}
        for gone in [
            i
            for i, h in self._home.items()
            if i in self._ended and scene.t - h.seen > SAME_ANIMAL_S
        ]:
            del self._home[gone]
            self._ended.discard(gone)
        for animal in [a for a, h in self._out.items() if scene.t - h.seen > SAME_ANIMAL_S]:
            del self._out[animal]
        return found

    def _new_home(
        self, track: Track, t: float, ranked: list[tuple[int, str]], now: set[int]
    ) -> _Home | None:
        """The home of a track new to the rule: that of a track lost a moment ago right here,
        or the strictest home zone its anchor is in."""
        came_from = self._lost_near(track, t, now)
        if came_from is not None:
            return dataclasses.replace(self._home[came_from])
        return _Home(ranked[0][0], ranked[0][1], track.id) if ranked else None

    def _lost_near(self, track: Track, t: float, now: set[int]) -> int | None:
        """A track with a home, not seen now but a moment ago, whose box was around here and
        about as tall (not a head or a back seen over another animal)."""
        height = track.box[3] - track.box[1]
        near = [
            (math.dist(h.centre, track.centre), i)
            for i, h in self._home.items()
            if i not in now
            and 0 < t - h.seen <= SAME_ANIMAL_S
            and math.dist(h.centre, track.centre) <= h.diagonal / 2
            and height >= WHOLE_HEIGHT * h.height
        ]
        return min(near)[1] if near else None

    def _same_case(self, home: _Home, t: float) -> None:
        """Report `home`'s animal under the case of an animal reported out a moment ago right
        here: two boxes of one animal, or animals leaving together, are one escape."""
        for animal, last in self._out.items():
            if (
                animal != home.animal
                and last.zone == home.zone
                and t - last.seen <= SAME_ANIMAL_S
                and math.dist(last.centre, home.centre) <= last.diagonal
            ):
                home.animal = animal
                break
        self._out[home.animal] = dataclasses.replace(home)

    def _clearly_out(self, scene: Scene, track: Track, home: _Home) -> bool:
        """The anchor is past the zone's edge by more than a box cut short by something in
        front of the animal (a fence, another animal) moves it; a box about as tall as the
        animal's boxes inside is not cut short and needs only to be past the edge, if the
        animal was once well inside (a box only ever seen along the edge may be a cut one)."""
        polygon = _polygon(scene, home.zone)
        anchor = track.anchor(scene.zones.settings.anchor)
        height = track.box[3] - track.box[1]
        if home.deep and height >= FULL_HEIGHT * home.height:
            margin = OUT_WHOLE
        else:
            margin = max(OUT_MIN, OUT_BY * height)
        return not inside(anchor, polygon) and edge_distance(anchor, polygon) >= margin

    def _finding(
        self,
        kind: FarmEventKind,
        track: Track,
        zone: str,
        severity: Severity,
        where: str,
        home: _Home | None = None,
    ) -> Finding:
        what = "on the road" if kind is FarmEventKind.ANIMAL_ON_ROAD else f"out of the {where}"
        return Finding(
            self.correlation(zone, home.animal if home else track.id),
            FarmEvent(
                kind=kind,
                severity=severity,
                summary=f"{track.label.capitalize()} {what}",
                camera_id=self.camera_id,
                zone=zone,
                track_id=track.id,
                labels=[track.label],
            ),
        )


class IntruderConfig(AnalyzerConfig):
    type: Literal["intruder"] = "intruder"
    labels: list[str] = Field(default_factory=lambda: ["person"], description="Who intrudes.")
    restricted_kinds: list[ZoneKind] = Field(
        default_factory=_restricted_zones,
        description="Zones where nobody should be.",
    )
    working_hours: tuple[time, time] | None = Field(
        default=None, description="People are expected anywhere between these local times."
    )


class IntruderAnalyzer(Analyzer):
    """A person in a restricted zone, or anywhere in view outside working hours."""

    key: ClassVar[str] = "intruder"
    config_model: ClassVar[type[AnalyzerConfig]] = IntruderConfig

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, IntruderConfig)
        found = []
        after_hours = config.working_hours is not None and not _within(
            scene.local_time.time(), *config.working_hours
        )
        for track in scene.tracks(config.labels):
            zones = scene.zones_of_kind(track, config.restricted_kinds)
            if not zones and not after_hours:
                continue
            where = zones[0] if zones else "after-hours"
            summary = f"Person in the {where}" if zones else "Person on the farm after hours"
            found.append(
                Finding(
                    self.correlation(where),  # one case per zone, whatever the track id
                    FarmEvent(
                        kind=FarmEventKind.INTRUDER,
                        severity=Severity.CRITICAL,
                        summary=summary,
                        camera_id=self.camera_id,
                        zone=zones[0] if zones else None,
                        track_id=track.id,
                        labels=[track.label],
                    ),
                )
            )
        return found


class PredatorConfig(AnalyzerConfig):
    type: Literal["predator"] = "predator"
    labels: list[str] = Field(default_factory=lambda: ["dog", "bear"], description="Predators.")
    herd_labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Herd.")
    herd_kinds: list[ZoneKind] = Field(
        default_factory=_herd_zones,
        description="A predator in these zones is near the herd even with no animal in view.",
    )
    min_hits: int = Field(
        default=2,
        ge=1,
        description="Detections of one predator before it is reported (the detector calls a "
        "dark horse or calf a dog for a frame or two).",
    )
    herd_height_share: dict[str, float] = Field(
        default_factory=lambda: {"dog": 0.8},
        description="Predator label -> largest box height, as a share of the herd animals' "
        "height at the same depth, that it can have (a 'dog' as tall as the cows beside it is "
        "a dark horse or calf).",
    )


class PredatorAnalyzer(Analyzer):
    """A dog or bear in view while the herd is in view, or inside the herd's zones; not a box
    where a herd animal was just seen (the detector calling a horse a dog for a frame)."""

    key: ClassVar[str] = "predator"
    config_model: ClassVar[type[AnalyzerConfig]] = PredatorConfig

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, PredatorConfig)
        herd = scene.tracks(config.herd_labels)
        kept = herd + [t for t in scene.update.lost if t.label in config.herd_labels]
        found = []
        for track in scene.tracks(config.labels):
            zones = scene.zones_of_kind(track, config.herd_kinds)
            if (
                (not herd and not zones)
                or track.hits < config.min_hits
                or any(iou(track.box, h.box) >= SAME_BOX for h in kept)
                or _too_tall(track, kept, config.herd_height_share.get(track.label))
            ):
                continue
            near = min((math.dist(track.centre, h.centre) for h in herd), default=None)
            found.append(
                Finding(
                    self.correlation(track.label),  # one case per kind of predator
                    FarmEvent(
                        kind=FarmEventKind.PREDATOR,
                        severity=Severity.CRITICAL,
                        summary=f"{track.label.capitalize()} near the herd",
                        camera_id=self.camera_id,
                        zone=zones[0] if zones else None,
                        track_id=track.id,
                        labels=[track.label, *sorted({h.label for h in herd})],
                        attributes={"distance": round(near, 3)} if near is not None else {},
                    ),
                )
            )
        return found


DEPARTED_S = 30.0  # a drop follows an animal seen leaving at most this long before it
AT_EDGE = 0.05  # of the frame: a box this near the side or bottom of the view is leaving it
SIGHTINGS = 3  # frames a lost animal was seen on in its last seconds to be judged walking
GRID = 8  # points a side sampled to tell how much of a box other boxes cover
RECOUNT_AFTER_S = 0.01  # a frame this long after its `edge_s` ran out no longer counts it
LEAVING_WITHIN = 1.5  # box widths: lost walking to the edge of the view this near, it left
HIDDEN_BY = 0.5  # share of a lost box under a box seen now at its depth: it is that box


def _in_zones(scene: Scene, labels: list[str]) -> Counter[str]:
    """Whole animals per zone, seen now or lost for a moment (the tracker keeps those a few
    seconds: a detection missed on a frame does not lower the count, a box split in two does
    not raise it)."""
    kept = [t for t in [*scene.update.confirmed, *scene.update.lost] if t.label in labels]
    return Counter(z for t in whole(kept) for z in scene.zones.zones_of(t.id))


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
    t = track.last_seen
    past = next((p for p in reversed(track.history) if t - p.t >= MOVING_WINDOW_S), None)
    if past is None or t - past.t > MOVING_MAX_AGE_S or not _seen_walking(track):
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
    polygon = _polygon(scene, zone)
    anchor = track.anchor(scene.zones.settings.anchor)
    return not inside(anchor, polygon) and edge_distance(anchor, polygon) >= OUT_MIN


def _seen_walking(track: Track) -> bool:
    """Whether the lost track was on the move when last seen, and seen on `SIGHTINGS` frames or
    more in its last `MOVING_MAX_AGE_S` (the pipeline infers often while something moves; a box
    at night seen twice a few seconds apart, in two places, is no walk)."""
    t = track.last_seen
    recent = sum(1 for p in track.history if t - p.t <= MOVING_MAX_AGE_S)
    return recent >= SIGHTINGS and on_the_move(track, t)


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

    Counted are the whole animals seen now (a part box, a second box on one animal, or one
    lying mostly over two animals standing side by side at its depth, is not another animal)
    and those the tracker still keeps lost: an animal missed for a moment inside the pen is
    not a drop. A lost box is not counted when it was a part box, when a box seen now at its
    depth covers it (it is that box, under a new id), or when it was last seen leaving the
    view more than `edge_s` ago: at its edge, or walking to it with about a body width to go
    (it walked out of sight; the rule asks for a look when that time is up, see `due`).

    With `needs_departure`, an animal must also have been seen leaving, at most `DEPARTED_S`
    before the count fell: a whole animal seen in the zone and then, walking, well outside it
    (`OUT_MIN`, with a box about as tall as inside: not its head bobbing over the fence), or
    lost leaving the view after it was seen walking on several frames (`SIGHTINGS`: not a
    box at night seen twice, seconds apart). A box once seen over several animals (two or
    more boxes inside it: the herd boxed as one at night) is never an animal leaving."""

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
                    if tall and on_the_move(track, scene.t):
                        self._left[zone] = scene.t
            for track in [*scene.update.lost, *scene.update.removed]:
                if track.id in self._group:
                    inside_now.pop(track.id, None)
                elif track.id in inside_now and _out_of_view(track, width):
                    del inside_now[track.id]
                    if _seen_walking(track):
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
        counts = _in_zones(scene, config.labels)
        found = []
        for zone, limit in config.max_animals.items():
            seen = counts[zone]
            since = self._over[zone].update(scene.t, seen > limit)
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


def _too_tall(track: Track, herd: list[Track], share: float | None) -> bool:
    """Whether the box is at least `share` of the height of the herd animals standing at the
    same depth (bottom edge within `SAME_DEPTH`); False when none stands there."""
    bottom = track.box[3]
    heights = sorted(h.box[3] - h.box[1] for h in herd if abs(h.box[3] - bottom) <= SAME_DEPTH)
    if share is None or not heights:
        return False
    return track.box[3] - track.box[1] >= share * heights[len(heights) // 2]


def _within(moment: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end
