"""Animal down: an animal lying still, or not moving at all, for too long.

Stillness is kept per spot (where an animal stopped), not per track: a lying animal is seen
less well, its track ends after a few missed seconds and comes back under a new id. A new
track of the same label at a spot takes the spot over with its time and its standing height,
so one animal stays one case (one correlation id) through such gaps. The standing height is
the tallest box seen on the spot or on the spot the animal walked from (a cow may lie down on
its last step) at the same depth: heights change with the distance to the camera. The tracker
often loses an animal as its box shrinks while it lies down and finds it again under another
id, so a new spot also takes what animals of its kind standing at its depth measure.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field

from appliance.analyzers.base import ANIMALS, Analyzer, AnalyzerConfig, Finding, Scene
from appliance.analyzers.steady import Run
from appliance.vision.tracker import Track
from contracts import FarmEvent, FarmEventKind, Severity

STILL_SHARE = 0.15  # of the box diagonal: the centre moving less than this is standing still
EDGE = 0.01  # of the frame: a box this near the side of the view is cut by it
SAME_DEPTH = 0.02  # of the frame: box bottoms this close are as far from the camera
SETTLING = 0.05  # of the standing height: a box still getting this much lower is lying down yet
LYING_DOWN_S = 3.0  # lying down takes this long at most; a lower box later is the detector's
DEPTH_BAND = 0.03  # of the frame: standing heights at bottoms this close are alike
HEIGHTS_KEPT = 2000  # standing heights remembered per label (minutes of a herd)
MIN_HEIGHTS = 10  # fewer heights than this at a depth say nothing about it


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
    lying_gap_s: float = Field(
        default=3.0,
        ge=0,
        description="A taller box seen for at most this long does not end lying (a neighbour's "
        "box merged with it for a moment).",
    )
    forget_s: float = Field(
        default=60.0,
        gt=0,
        description="A spot where no animal has been seen this long is forgotten.",
    )


@dataclass
class _Spot:
    id: int
    label: str
    anchor: tuple[float, float]  # box centre where the animal stopped
    diagonal: float
    since: float  # still here since
    seen: float
    came_from: float  # tallest box height on the spot it walked from (0: none)
    typical: float  # what its kind standing at this depth measured when it came (0: unknown)
    tallest: float  # tallest box height seen here
    bottom: float  # bottom edge of the tallest box (how far from the camera it was)
    lying: Run
    low: float = math.inf  # lowest box height while lying
    low_since: float | None = None  # first frame of the current lying run

    def holds(self, track: Track) -> bool:
        return math.dist(self.anchor, track.centre) <= STILL_SHARE * self.diagonal


class _Heights:
    """Box heights of animals not lying, by the depth of their bottom edge and by label."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[tuple[float, float]]] = {}

    def add(self, label: str, bottom: float, height: float) -> None:
        self._seen.setdefault(label, deque(maxlen=HEIGHTS_KEPT)).append((bottom, height))

    def standing(self, label: str, bottom: float) -> float:
        """The median height at this depth; 0 when too few were seen there."""
        near = sorted(h for b, h in self._seen.get(label, ()) if abs(b - bottom) <= DEPTH_BAND)
        return near[len(near) // 2] if len(near) >= MIN_HEIGHTS else 0.0


class AnimalDownAnalyzer(Analyzer):
    """An animal lying still for `lying_s`, or not moving at all for `still_s`.

    Lying is judged against the animal's standing height where it stopped (heights change
    with the distance to the camera, so a height from far away means nothing)."""

    key: ClassVar[str] = "animal_down"
    config_model: ClassVar[type[AnalyzerConfig]] = AnimalDownConfig

    def __init__(self, config: AnalyzerConfig, camera_id: str) -> None:
        super().__init__(config, camera_id)
        self._spots: dict[int, _Spot] = {}
        self._of_track: dict[int, int] = {}  # track id -> spot id
        self._ids = itertools.count(1)
        self._heights = _Heights()

    def check(self, scene: Scene) -> list[Finding]:
        config = self.config
        assert isinstance(config, AnimalDownConfig)
        found = []
        animals = scene.tracks(config.labels)  # a lying animal's box may lie inside another's
        taken = {self._of_track[t.id] for t in animals if t.id in self._of_track}
        for track in animals:
            spot = self._place(track, scene.t, taken)
            height = track.box[3] - track.box[1]
            spot.seen = scene.t
            if height > spot.tallest:
                spot.tallest, spot.bottom = height, track.box[3]
            standing = max(spot.tallest, spot.came_from, spot.typical)
            cut = track.box[0] <= EDGE or track.box[2] >= 1 - EDGE  # its shape says nothing
            # a lying animal keeps its place on the ground; a box whose bottom went up, or ends
            # on a nearer animal, is the top of an animal hidden behind another one
            grounded = track.box[3] >= spot.bottom - SAME_DEPTH and not _hidden(track, animals)
            lying = not cut and grounded and height < config.lying_ratio * standing
            if lying and height < spot.low - SETTLING * standing:
                spot.low, spot.anchor = height, track.centre  # it lies here, its box settled
                if spot.low_since is None or scene.t - spot.low_since <= LYING_DOWN_S:
                    spot.lying.since = None  # still lying down: count from when it lay down
            lying_since = spot.lying.update(scene.t, lying)
            if lying_since is None and not cut:
                self._heights.add(track.label, track.box[3], height)
            if lying_since is None:
                spot.low, spot.low_since = math.inf, None
            elif spot.low_since is None:
                spot.low_since = lying_since
            still = scene.t - spot.since
            lain = None if lying_since is None else min(scene.t - lying_since, still)
            if (lain is not None and lain >= config.lying_s) or still >= config.still_s:
                found.append(self._finding(spot, track, still, lain))
        for gone in scene.update.removed:
            self._of_track.pop(gone.id, None)
        for spot in [s for s in self._spots.values() if scene.t - s.seen > config.forget_s]:
            del self._spots[spot.id]
        return found

    def due(self, now: float) -> float | None:
        """When an animal lying (or still) now will have done so for long enough."""
        config = self.config
        assert isinstance(config, AnimalDownConfig)
        ends = []
        for spot in self._spots.values():
            ends.append(spot.since + config.still_s)
            if spot.lying.since is not None:  # lain counts from lying or from coming, if later
                ends.append(max(spot.lying.since, spot.since) + config.lying_s)
        return min([end for end in ends if end > now], default=None)

    def _place(self, track: Track, t: float, taken: set[int]) -> _Spot:
        """The spot of this animal: its own if it has not moved off it, else one it has come
        back to under a new id, else a new one."""
        x1, y1, x2, y2 = track.box
        own = self._spots.get(self._of_track.get(track.id, -1))
        if own is not None and own.holds(track):
            return own
        came_from = 0.0
        if own is not None:  # it moved on: it may lie down on the last step
            del self._spots[own.id]
            if abs(own.bottom - y2) <= SAME_DEPTH:
                came_from = own.tallest
        else:
            free = [
                s
                for s in self._spots.values()
                if s.id not in taken and s.label == track.label and s.holds(track)
            ]
            if free:
                spot = min(free, key=lambda s: math.dist(s.anchor, track.centre))
                self._of_track[track.id] = spot.id
                taken.add(spot.id)
                return spot
        config = self.config
        assert isinstance(config, AnimalDownConfig)
        spot = _Spot(
            next(self._ids),
            track.label,
            track.centre,
            math.hypot(x2 - x1, y2 - y1),
            t,
            t,
            came_from,
            self._heights.standing(track.label, y2),
            y2 - y1,
            y2,
            Run(config.lying_gap_s),
        )
        self._spots[spot.id] = spot
        self._of_track[track.id] = spot.id
        taken.add(spot.id)
        return spot

    def _finding(self, spot: _Spot, track: Track, still: float, lain: float | None) -> Finding:
        posture, held = ("not moving", still) if lain is None else ("lying", lain)
        return Finding(
            self.correlation(f"spot{spot.id}"),
            FarmEvent(
                kind=FarmEventKind.ANIMAL_DOWN,
                severity=Severity.WARNING,
                summary=f"{track.label.capitalize()} {posture} for {_duration(held)}",
                camera_id=self.camera_id,
                track_id=track.id,
                labels=[track.label],
                attributes={"still_s": round(still, 1), "lying": lain is not None},
            ),
        )


def _hidden(track: Track, animals: list[Track]) -> bool:
    """Whether the middle of the box's bottom edge lies on a nearer animal's box."""
    x, y = (track.box[0] + track.box[2]) / 2, track.box[3]
    return any(
        o.box[3] > y + SAME_DEPTH and o.box[0] <= x <= o.box[2] and o.box[1] <= y
        for o in animals
        if o is not track
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
