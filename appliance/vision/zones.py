"""Zones: named polygons per camera, and which tracks are in which zone.

A track's position is its anchor point (by default the bottom centre of its box: where the
animal stands). Membership changes only after the new state has been seen in
`debounce_frames` consecutive observations spanning at least `debounce_s`, so a box that
jitters on a fence line does not flap. Only confirmed tracks are placed; a lost track keeps
its zones until it is seen again or removed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from appliance.vision.errors import ZoneConfigError, describe
from appliance.vision.geometry import AnchorKind
from appliance.vision.polygon import points_in_polygon, polygon_problem
from appliance.vision.tracker import Track, TrackerUpdate

if TYPE_CHECKING:  # the scene composer stays standalone; this module only reads its truth
    from appliance.scenes.truth import SceneTruth

ZoneKind = Literal["pasture", "pen", "trough", "gate", "road", "restricted", "calving_pen"]
Transition = Literal["enter", "exit"]
Cause = Literal["moved", "appeared", "removed"]
_EPS = 1e-9  # frame times are sums of floats: 1.4 - 0.4 < 1.0


class ZoneConfig(BaseModel):
    """One zone of a camera's view."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, description="Zone name, unique per camera.")
    kind: ZoneKind = Field(description="What the zone is on the farm.")
    points: list[tuple[float, float]] = Field(
        description="Polygon vertices (x, y) as fractions of frame width and height (0..1), "
        "at least 3, edges must not cross."
    )

    @model_validator(mode="after")
    def _polygon_simple_and_in_frame(self) -> ZoneConfig:
        outside = [i for i, (x, y) in enumerate(self.points) if not (0 <= x <= 1 and 0 <= y <= 1)]
        if outside:
            raise ValueError(f"zone {self.name!r}: points {outside} are outside the frame (0..1)")
        problem = polygon_problem(self.points)
        if problem is not None:
            raise ValueError(f"zone {self.name!r}: polygon {problem}")
        return self


class ZoneSettings(BaseModel):
    """The zones of one camera and how tracks are placed in them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: list[ZoneConfig] = Field(default_factory=list, description="The camera's zones.")
    anchor: AnchorKind = Field(
        default="bottom_center",
        description="Point of a box placed in zones: `bottom_center` (feet) or `center`.",
    )
    debounce_frames: int = Field(
        default=2, ge=1, description="Observations in a row a zone change must be seen in."
    )
    debounce_s: float = Field(
        default=0.0, ge=0.0, description="Seconds a zone change must last before it counts."
    )

    @model_validator(mode="after")
    def _names_unique(self) -> ZoneSettings:
        seen: set[str] = set()
        for zone in self.zones:
            if zone.name in seen:
                raise ValueError(f"zone {zone.name!r} is defined twice")
            seen.add(zone.name)
        return self


def load_zone_settings(data: object) -> ZoneSettings:
    """Validate a camera's zone settings; the error names the zone and the problem."""
    try:
        return ZoneSettings.model_validate(data)
    except ValidationError as err:
        raise ZoneConfigError(describe(err, _zone_names(data))) from err


def zones_of_scene(truth: SceneTruth) -> ZoneSettings:
    """A composed scene's zones (pixel polygons) as a camera's zone settings (frame units)."""
    return ZoneSettings(
        zones=[
            ZoneConfig(
                name=z.name,
                kind=z.kind,
                points=[(x / truth.width, y / truth.height) for x, y in z.polygon],
            )
            for z in truth.zones
        ]
    )


def _zone_names(data: object) -> dict[int, str]:
    """Names of the raw zones by position, to name them in errors."""
    zones = data.get("zones") if isinstance(data, dict) else None
    if not isinstance(zones, list):
        return {}
    return {i: z["name"] for i, z in enumerate(zones) if isinstance(z, dict) and "name" in z}


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    """A confirmed track entered or left a zone."""

    camera: str
    zone: str
    zone_kind: ZoneKind
    track_id: int
    label: str
    transition: Transition
    cause: Cause
    """`moved`: it crossed the edge; `appeared`: first placed there; `removed`: track ended."""
    t: float
    """Time the change was confirmed (after debounce)."""
    since: float
    """Time the new state was first seen."""
    point: tuple[float, float]


@dataclass(slots=True)
class _Pending:
    count: int
    since: float


@dataclass(slots=True)
class _Membership:
    label: str
    inside: set[int] = field(default_factory=set)
    pending: dict[int, _Pending] = field(default_factory=dict)
    entered: dict[int, float] = field(default_factory=dict)  # zone -> first seen inside


class ZoneMonitor:
    """Zone membership of one camera's tracks; feed it every tracker update."""

    def __init__(self, settings: ZoneSettings, camera: str = "") -> None:
        self.settings = settings
        self.camera = camera
        self._zones = settings.zones
        self._polygons = [np.array(z.points, dtype=np.float64) for z in settings.zones]
        self._members: dict[int, _Membership] = {}

    def update(self, frame: TrackerUpdate) -> list[ZoneEvent]:
        """Place the frame's confirmed tracks; events for confirmed zone changes."""
        events: list[ZoneEvent] = []
        seen = frame.confirmed
        if seen and self._zones:
            anchors = np.array([tr.anchor(self.settings.anchor) for tr in seen], dtype=np.float64)
            inside = np.column_stack([points_in_polygon(anchors, p) for p in self._polygons])
            for track, row, point in zip(seen, inside.tolist(), anchors.tolist(), strict=True):
                self._place(track, row, (point[0], point[1]), frame.t, events)
        for track in frame.removed:
            self._drop(track, frame.t, events)
        return events

    def zones_of(self, track_id: int) -> frozenset[str]:
        """Names of the zones a track is in."""
        member = self._members.get(track_id)
        if member is None:
            return frozenset()
        return frozenset(self._zones[z].name for z in member.inside)

    def entered_at(self, track_id: int, zone: str) -> float | None:
        """When the track was first seen inside the zone it is in now (before the debounce
        confirmed it), or None."""
        member = self._members.get(track_id)
        return None if member is None else member.entered.get(self._index(zone))

    def members(self, zone: str) -> list[int]:
        """Ids of the tracks in a zone, ascending."""
        index = self._index(zone)
        return sorted(tid for tid, m in self._members.items() if index in m.inside)

    def counts(self) -> dict[str, dict[str, int]]:
        """Tracks per zone per label, e.g. {"north pen": {"cow": 12}}; every zone is listed."""
        counts: dict[str, Counter[str]] = {z.name: Counter() for z in self._zones}
        for member in self._members.values():
            for z in member.inside:
                counts[self._zones[z].name][member.label] += 1
        return {name: dict(c) for name, c in counts.items()}

    def _index(self, zone: str) -> int:
        for i, z in enumerate(self._zones):
            if z.name == zone:
                return i
        raise KeyError(zone)

    def _place(
        self,
        track: Track,
        row: list[bool],
        point: tuple[float, float],
        t: float,
        events: list[ZoneEvent],
    ) -> None:
        member = self._members.get(track.id)
        if member is None:
            member = self._members[track.id] = _Membership(track.label)
            member.inside = {z for z, flag in enumerate(row) if flag}
            member.entered = dict.fromkeys(member.inside, t)
            events += self._events(track, member.inside, "enter", "appeared", t, t, point)
            return
        s = self.settings
        for z, now_inside in enumerate(row):
            if now_inside == (z in member.inside):
                member.pending.pop(z, None)
                continue
            pending = member.pending.get(z)
            if pending is None:
                pending = member.pending[z] = _Pending(0, t)
            pending.count += 1
            if pending.count >= s.debounce_frames and t - pending.since >= s.debounce_s - _EPS:
                del member.pending[z]
                if now_inside:
                    member.inside.add(z)
                    member.entered[z] = pending.since
                else:
                    member.inside.discard(z)
                    member.entered.pop(z, None)
                transition: Transition = "enter" if now_inside else "exit"
                events += self._events(track, [z], transition, "moved", t, pending.since, point)

    def _drop(self, track: Track, t: float, events: list[ZoneEvent]) -> None:
        member = self._members.pop(track.id, None)
        if member is not None:
            point = track.anchor(self.settings.anchor)
            events += self._events(track, member.inside, "exit", "removed", t, t, point)

    def _events(
        self,
        track: Track,
        zones: Iterable[int],
        transition: Transition,
        cause: Cause,
        t: float,
        since: float,
        point: tuple[float, float],
    ) -> list[ZoneEvent]:
        return [
            ZoneEvent(
                camera=self.camera,
                zone=self._zones[z].name,
                zone_kind=self._zones[z].kind,
                track_id=track.id,
                label=track.label,
                transition=transition,
                cause=cause,
                t=t,
                since=since,
                point=point,
            )
            for z in sorted(zones)
        ]
