"""The escape rule: an animal out of the zone it lives in (pen, pasture, calving pen)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field

from appliance.analyzers.base import ANIMALS, Analyzer, AnalyzerConfig, Finding, Scene
from appliance.analyzers.steady import (
    edge_distance,
    inside,
    whole,
)
from appliance.vision.tracker import Track
from appliance.vision.zones import ZoneKind
from contracts import FarmEvent, FarmEventKind, Severity

OUT_BY = 0.15  # of the box height: an anchor this far past the edge is not a cut-off box
OUT_MIN = 0.04  # of the frame: nor is one this far
OUT_WHOLE = 0.01  # of the frame: a box of the animal's full height this far past the edge is out
FULL_HEIGHT = 0.85  # of its typical height inside: a box this tall is not cut short
WHOLE_HEIGHT = 0.55  # of its height inside: a lower box is the animal's top seen over another
SAME_ANIMAL_S = 5.0  # a new track where one was lost this long ago continues it


def herd_zones() -> list[ZoneKind]:
    return ["pen", "pasture", "calving_pen"]


def _road_zones() -> list[ZoneKind]:
    return ["road"]


class EscapeConfig(AnalyzerConfig):
    type: Literal["escape"] = "escape"
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    home_kinds: list[ZoneKind] = Field(
        default_factory=herd_zones,
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


def zone_polygon(scene: Scene, zone: str) -> list[tuple[float, float]]:
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
                    polygon = zone_polygon(scene, home.zone)
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
        polygon = zone_polygon(scene, home.zone)
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
