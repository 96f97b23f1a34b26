"""The built-in analyzers."""

from __future__ import annotations

import math
from collections import Counter
from datetime import time
from typing import ClassVar, Literal

from pydantic import Field

from appliance.analyzers.base import ANIMALS, Analyzer, AnalyzerConfig, Finding, Scene
from appliance.vision.tracker import Track
from appliance.vision.zones import ZoneKind
from contracts import FarmEvent, FarmEventKind, Severity

MOVED_SHARE = 0.3  # of the box height: farther than lying down moves the box centre


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


class EscapeAnalyzer(Analyzer):
    """An animal out of its zone: it was first seen in a home zone (the strictest one, in
    the order of `home_kinds`) and is now outside it, and not in a zone at least as strict
    (escape, fence breach); or an animal on a road."""

    key: ClassVar[str] = "escape"
    config_model: ClassVar[type[AnalyzerConfig]] = EscapeConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        self._home: dict[int, tuple[int, str]] = {}  # track id -> (strictness, zone)

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, EscapeConfig)
        found = []
        for track in scene.tracks(config.labels):
            zones = scene.zones.zones_of(track.id)
            ranked = sorted(
                (config.home_kinds.index(scene.zone_kinds[z]), z)
                for z in zones
                if scene.zone_kinds[z] in config.home_kinds
            )
            roads = scene.zones_of_kind(track, config.road_kinds)
            if ranked and track.id not in self._home:
                self._home[track.id] = ranked[0]
            home = self._home.get(track.id)
            if roads:
                found.append(
                    self._finding(
                        FarmEventKind.ANIMAL_ON_ROAD, track, roads[0], Severity.CRITICAL, "road"
                    )
                )
            elif (
                home is not None and home[1] not in zones and (not ranked or ranked[0][0] > home[0])
            ):
                found.append(
                    self._finding(FarmEventKind.ESCAPE, track, home[1], Severity.WARNING, home[1])
                )
        for gone in scene.update.removed:
            self._home.pop(gone.id, None)
        return found

    def _finding(
        self, kind: FarmEventKind, track: Track, zone: str, severity: Severity, where: str
    ) -> Finding:
        what = "on the road" if kind is FarmEventKind.ANIMAL_ON_ROAD else f"out of the {where}"
        return Finding(
            self.correlation(zone, track.id),
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
                    self.correlation(where, track.id),
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


class PredatorAnalyzer(Analyzer):
    """A dog or bear in view while the herd is in view, or inside the herd's zones."""

    key: ClassVar[str] = "predator"
    config_model: ClassVar[type[AnalyzerConfig]] = PredatorConfig

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, PredatorConfig)
        herd = scene.tracks(config.herd_labels)
        found = []
        for track in scene.tracks(config.labels):
            zones = scene.zones_of_kind(track, config.herd_kinds)
            if not herd and not zones:
                continue
            near = min((math.dist(track.centre, h.centre) for h in herd), default=None)
            found.append(
                Finding(
                    self.correlation(track.id),
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


class AnimalDownConfig(AnalyzerConfig):
    type: Literal["animal_down"] = "animal_down"
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    lying_s: float = Field(
        default=1200.0, gt=0, description="Lying (box much lower than standing) this long."
    )
    still_s: float = Field(
        default=3600.0, gt=0, description="Not moving at all this long, whatever the posture."
    )
    lying_ratio: float = Field(
        default=0.75, gt=0, lt=1, description="Lying: box height below this share of standing."
    )


class AnimalDownAnalyzer(Analyzer):
    """A tracked animal lying still for `lying_s`, or not moving at all for `still_s`.

    Lying is judged against the animal's standing height where it stopped (heights change
    with the distance to the camera, so a height from elsewhere in view means nothing), and
    must hold for `lying_s` without a break: a box cut short for a moment is not lying."""

    key: ClassVar[str] = "animal_down"
    config_model: ClassVar[type[AnalyzerConfig]] = AnimalDownConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        self._standing: dict[int, tuple[float, tuple[float, float]]] = {}  # height, where
        self._lying_since: dict[int, float] = {}

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, AnimalDownConfig)
        found = []
        for track in scene.tracks(config.labels):
            height = track.box[3] - track.box[1]
            still = track.stationary_s
            standing, where = self._standing.get(track.id, (height, track.centre))
            if math.dist(where, track.centre) > MOVED_SHARE * height:  # heights here differ
                standing, where = height, track.centre
            standing = max(standing, height)
            self._standing[track.id] = (standing, where)
            lying = height < config.lying_ratio * standing
            if lying:
                self._lying_since.setdefault(track.id, scene.t)
            else:
                self._lying_since.pop(track.id, None)
            lying_s = scene.t - self._lying_since.get(track.id, scene.t)
            lying_long = lying and min(lying_s, still) >= config.lying_s
            if lying_long or still >= config.still_s:
                posture = "lying" if lying else "not moving"
                found.append(
                    Finding(
                        self.correlation(track.id),
                        FarmEvent(
                            kind=FarmEventKind.ANIMAL_DOWN,
                            severity=Severity.WARNING,
                            summary=f"{track.label.capitalize()} {posture} "
                            f"for {still / 60:.0f} min",
                            camera_id=self.camera_id,
                            track_id=track.id,
                            labels=[track.label],
                            attributes={"still_s": round(still, 1), "lying": lying},
                        ),
                    )
                )
        for gone in scene.update.removed:
            self._standing.pop(gone.id, None)
            self._lying_since.pop(gone.id, None)
        return found


class HeadcountConfig(AnalyzerConfig):
    type: Literal["headcount"] = "headcount"
    expected: dict[str, int] = Field(description="Zone name -> animals expected in it.")
    labels: list[str] = Field(default_factory=lambda: list(ANIMALS), description="Animals.")
    hold_s: float = Field(default=60.0, ge=0, description="A drop must last this long.")


class HeadcountAnalyzer(Analyzer):
    """Fewer animals in a pen than expected for longer than `hold_s`.

    Counts the animals seen on this frame (not tracks kept a while after they were lost), so
    the hold starts when an animal goes; a full count again (a detection missed for a moment
    coming back) ends it."""

    key: ClassVar[str] = "headcount"
    config_model: ClassVar[type[AnalyzerConfig]] = HeadcountConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        self._low_since: dict[str, float] = {}

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, HeadcountConfig)
        counts = Counter(z for t in scene.tracks(config.labels) for z in scene.zones.zones_of(t.id))
        found = []
        for zone, expected in config.expected.items():
            seen = counts[zone]
            if seen >= expected:
                self._low_since.pop(zone, None)
                continue
            since = self._low_since.setdefault(zone, scene.t)
            if scene.t - since >= config.hold_s:
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


class CrowdingAnalyzer(Analyzer):
    """More animals at a gate or trough than normal for longer than `hold_s`."""

    key: ClassVar[str] = "crowding"
    config_model: ClassVar[type[AnalyzerConfig]] = CrowdingConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        self._since: dict[str, float] = {}

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, CrowdingConfig)
        counts = scene.zones.counts()
        found = []
        for zone, limit in config.max_animals.items():
            seen = sum(n for label, n in counts.get(zone, {}).items() if label in config.labels)
            if seen <= limit:
                self._since.pop(zone, None)
                continue
            since = self._since.setdefault(zone, scene.t)
            if scene.t - since >= config.hold_s:
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


def _within(moment: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end
