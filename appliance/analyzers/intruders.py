"""Who should not be there: people in restricted zones or out of hours, predators near the herd."""

from __future__ import annotations

import math
from datetime import time
from typing import ClassVar, Literal

from pydantic import Field

from appliance.analyzers.base import ANIMALS, Analyzer, AnalyzerConfig, Finding, Scene
from appliance.analyzers.escape import herd_zones
from appliance.analyzers.steady import (
    SAME_DEPTH,
    iou,
)
from appliance.vision.tracker import Track
from appliance.vision.zones import ZoneKind
from contracts import FarmEvent, FarmEventKind, Severity

SAME_BOX = 0.5  # IoU: a predator box this much on a herd animal's box is that animal


def _restricted_zones() -> list[ZoneKind]:
    return ["restricted", "calving_pen"]


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
        default_factory=herd_zones,
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
