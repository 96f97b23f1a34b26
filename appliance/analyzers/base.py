"""What every analyzer sees and returns; rate limiting of repeats lives here.

An analyzer reports a condition when it starts and then every `repeat_s` while it holds,
so the incident engine keeps the incident alive and auto-resolves it once reports stop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from appliance.vision.tracker import Track, TrackerUpdate
from appliance.vision.zones import ZoneEvent, ZoneKind, ZoneMonitor
from contracts import FarmEvent

ANIMALS = ("cow", "sheep", "horse")


@dataclass(frozen=True)
class Scene:
    """One inferred frame of one camera, after tracking and zone placement."""

    camera_id: str
    t: float  # capture time, epoch seconds
    local_time: datetime
    update: TrackerUpdate
    zone_events: list[ZoneEvent]
    zones: ZoneMonitor
    zone_kinds: dict[str, ZoneKind]

    def tracks(self, labels: tuple[str, ...] | list[str]) -> list[Track]:
        return [t for t in self.update.confirmed if t.label in labels]

    def zones_of_kind(self, track: Track, kinds: list[ZoneKind]) -> list[str]:
        return sorted(z for z in self.zones.zones_of(track.id) if self.zone_kinds[z] in kinds)


@dataclass(frozen=True)
class Finding:
    correlation_id: str
    event: FarmEvent


class AnalyzerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    enabled: bool = Field(default=True, description="Switch this analyzer off without removing it.")
    repeat_s: float = Field(
        default=10.0, gt=0, description="Report a holding condition again this often."
    )


class Analyzer(ABC):
    key: ClassVar[str]
    config_model: ClassVar[type[AnalyzerConfig]]

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        self.config = config
        self.camera_id = camera_id
        self._last_report: dict[str, float] = {}

    def observe(self, scene: Scene) -> list[Finding]:
        """Findings due now: new conditions at once, holding ones every `repeat_s`."""
        if not self.config.enabled:
            return []
        due = []
        holding = self.check(scene)
        for finding in holding:
            last = self._last_report.get(finding.correlation_id)
            if last is None or scene.t - last >= self.config.repeat_s:
                self._last_report[finding.correlation_id] = scene.t
                due.append(finding)
        current = {f.correlation_id for f in holding}
        for gone in set(self._last_report) - current:
            del self._last_report[gone]
        return due

    @abstractmethod
    def check(self, scene: Scene) -> list[Finding]:
        """Every condition that holds on this frame (not rate limited)."""

    def due(self, now: float) -> float | None:
        """When (capture time, epoch s, after `now`) a condition being timed becomes
        reportable, if it keeps holding: the pipeline has a frame inferred then instead of
        waiting for motion or the minimum rate. None when nothing is being timed."""
        return None

    def correlation(self, *parts: object) -> str:
        return ":".join([self.camera_id, self.key, *(str(p) for p in parts)])
