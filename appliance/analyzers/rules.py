"""The built-in analyzers."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import time
from typing import ClassVar, Literal

from pydantic import Field

from appliance.analyzers.base import ANIMALS, Analyzer, AnalyzerConfig, Finding, Scene
from appliance.analyzers.steady import Run, edge_distance, inside, iou, whole
from appliance.vision.tracker import Track
from appliance.vision.zones import ZoneKind
from contracts import FarmEvent, FarmEventKind, Severity

OUT_BY = 0.15  # of the box height: an anchor this far past the edge is not a cut-off box
OUT_MIN = 0.04  # of the frame: nor is one this far
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
    height: float = 0.0  # box height when last seen in the home zone


class EscapeAnalyzer(Analyzer):
    """An animal out of its zone: it was first seen in a home zone (the strictest one, in
    the order of `home_kinds`) and is now clearly outside it, and not in a zone at least as
    strict (escape, fence breach); or an animal on a road.

    A new track that starts where a track with a home was lost a moment ago is the same
    animal under a new id (its box changed as it passed the fence): it keeps that home and
    that case."""

    key: ClassVar[str] = "escape"
    config_model: ClassVar[type[AnalyzerConfig]] = EscapeConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        self._home: dict[int, _Home] = {}  # track id -> home
        self._known: set[int] = set()
        self._ended: set[int] = set()  # removed by the tracker; homes kept a moment for new ids

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, EscapeConfig)
        found = []
        animals = whole(scene.tracks(config.labels))  # a part box's anchor is not the feet
        now = {t.id for t in animals}
        for track in animals:
            zones = scene.zones.zones_of(track.id)
            ranked = sorted(
                (config.home_kinds.index(scene.zone_kinds[z]), z)
                for z in zones
                if scene.zone_kinds[z] in config.home_kinds
            )
            if track.id not in self._known:
                self._known.add(track.id)
                came_from = self._lost_near(track, scene.t, now)
                if came_from is not None:
                    self._home[track.id] = self._home.pop(came_from)
                elif ranked:
                    self._home[track.id] = _Home(ranked[0][0], ranked[0][1], track.id)
            home = self._home.get(track.id)
            height = track.box[3] - track.box[1]
            if home is not None:
                home.seen, home.centre = scene.t, track.centre
                home.diagonal = math.hypot(track.box[2] - track.box[0], height)
                if home.zone in zones:
                    home.height = height
            roads = scene.zones_of_kind(track, config.road_kinds)
            if roads:
                found.append(
                    self._finding(
                        FarmEventKind.ANIMAL_ON_ROAD, track, roads[0], Severity.CRITICAL, "road"
                    )
                )
            elif (
                home is not None
                and home.zone not in zones
                and (not ranked or ranked[0][0] > home.rank)
                and height >= WHOLE_HEIGHT * home.height
                and self._clearly_out(scene, track, home.zone)
            ):
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
        return found

    def _lost_near(self, track: Track, t: float, now: set[int]) -> int | None:
        """A track with a home, not seen now but a moment ago, whose box was around here."""
        near = [
            (math.dist(h.centre, track.centre), i)
            for i, h in self._home.items()
            if i not in now
            and 0 < t - h.seen <= SAME_ANIMAL_S
            and math.dist(h.centre, track.centre) <= h.diagonal
        ]
        return min(near)[1] if near else None

    def _clearly_out(self, scene: Scene, track: Track, zone: str) -> bool:
        """The anchor is past the zone's edge by more than a box cut short by something in
        front of the animal (a fence, another animal) moves it."""
        polygon = next(z.points for z in scene.zones.settings.zones if z.name == zone)
        anchor = track.anchor(scene.zones.settings.anchor)
        margin = max(OUT_MIN, OUT_BY * (track.box[3] - track.box[1]))
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


def _in_zones(scene: Scene, labels: list[str], *, whole_lost: bool) -> Counter[str]:
    """Animals per zone. With `whole_lost`, whole animals seen now or lost for a moment (the
    tracker keeps those a few seconds: a detection missed on a frame does not lower the count,
    a box split in two does not raise it); else every box seen now, part boxes too (an animal
    half hidden behind another)."""
    if whole_lost:
        kept = [t for t in [*scene.update.confirmed, *scene.update.lost] if t.label in labels]
        counted = whole(kept)
    else:
        counted = [t for t in scene.update.confirmed if t.label in labels]
    return Counter(z for t in counted for z in scene.zones.zones_of(t.id))


class HeadcountConfig(AnalyzerConfig):
    type: Literal["headcount"] = "headcount"
    expected: dict[str, int] = Field(description="Zone name -> animals expected in it.")
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    hold_s: float = Field(default=60.0, ge=0, description="A drop must last this long.")
    gap_s: float = Field(
        default=0.0,
        ge=0,
        description="A full count seen for at most this long does not end a drop (0: any full "
        "count ends it; herds hide each other, so a full count is rarely seen by mistake).",
    )


class HeadcountAnalyzer(Analyzer):
    """Fewer animals in a pen than expected for longer than `hold_s`: the full count has not
    been seen for that long, after it was seen at least once (a camera that never sees the
    whole herd, e.g. at night, reports no drop). Animals lost for a moment and part boxes (an
    animal half hidden behind another) count: a missed or hidden animal is not a drop."""

    key: ClassVar[str] = "headcount"
    config_model: ClassVar[type[AnalyzerConfig]] = HeadcountConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        assert isinstance(config, HeadcountConfig)
        self._low = {zone: Run(config.gap_s) for zone in config.expected}
        self._full: set[str] = set()  # zones seen with the full count: only those can drop

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, HeadcountConfig)
        counts = _in_zones(scene, config.labels, whole_lost=False)
        found = []
        for zone, expected in config.expected.items():
            seen = counts[zone]
            if seen >= expected:
                self._full.add(zone)
            since = self._low[zone].update(scene.t, seen < expected)
            if (
                zone in self._full
                and since is not None
                and seen < expected
                and scene.t - since >= config.hold_s
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


class CrowdingConfig(AnalyzerConfig):
    type: Literal["crowding"] = "crowding"
    max_animals: dict[str, int] = Field(description="Zone name -> most animals that is normal.")
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    hold_s: float = Field(default=30.0, ge=0, description="Crowding must last this long.")
    gap_s: float = Field(
        default=2.0,
        ge=0,
        description="A count at or below the limit for at most this long does not end crowding "
        "(animals in a crowd hide each other).",
    )


class CrowdingAnalyzer(Analyzer):
    """More animals at a gate or trough than normal for longer than `hold_s`; part boxes of an
    animal are not counted, short dips of the count are bridged."""

    key: ClassVar[str] = "crowding"
    config_model: ClassVar[type[AnalyzerConfig]] = CrowdingConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        assert isinstance(config, CrowdingConfig)
        self._over = {zone: Run(config.gap_s) for zone in config.max_animals}

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, CrowdingConfig)
        counts = _in_zones(scene, config.labels, whole_lost=True)
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
