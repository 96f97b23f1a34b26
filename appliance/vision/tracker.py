"""Multi-object tracker: stable ids per object across frames, per class.

Each update takes one frame's detections and its timestamp (seconds, any monotonic clock;
frames may come at any rate). Tracks are predicted forward with constant velocity, then
matched to detections of the same label in two stages: by IoU of the predicted box, then
the leftovers by centre distance within a gate that widens while a track is unseen. A lost
track matched again before `max_age_s` keeps its id (re-identification after occlusion); one
that stood still before it was lost is kept `still_max_age_s` (animals graze in place, and a
hidden or unseen one is found where it stood). The gate stops growing at `max_gate_growth`, so
a long-lost track does not take over a detection far away. An unmatched box lying mostly
inside a bigger confirmed or lost track of its label (a head, a patch of hide on a dark frame)
starts no track: one animal stays one track.

States: tentative (new) -> confirmed after `min_hits` matches -> lost when unmatched ->
confirmed again when re-acquired, or removed after `max_age_s` unseen. A tentative track
missed more than `tentative_max_misses` times in a row is removed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from appliance.vision.assignment import match
from appliance.vision.errors import TrackerError
from appliance.vision.geometry import AnchorKind, Array, anchor_of, boxes_of, iou_matrix
from contracts.vision import Detection

Box = tuple[float, float, float, float]


class TrackerSettings(BaseModel):
    """How detections are associated into tracks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iou_min: float = Field(
        default=0.2, gt=0.0, le=1.0, description="Lowest IoU of a predicted box and a detection."
    )
    distance_gate: float = Field(
        default=1.0, gt=0.0, description="Centre-distance match radius, in track box diagonals."
    )
    min_distance_gate: float = Field(
        default=0.02, ge=0.0, description="Smallest centre-distance radius, in frame units."
    )
    gate_growth_per_s: float = Field(
        default=0.05, ge=0.0, description="Radius added per second a track has been unseen."
    )
    max_gate_growth: float = Field(
        default=0.1, ge=0.0, description="Most radius added while unseen, in frame units."
    )
    max_size_change: float = Field(
        default=2.0, ge=1.0, description="Largest diagonal ratio for a centre-distance match."
    )
    min_hits: int = Field(default=3, ge=1, description="Matches that confirm a new track.")
    part_inside: float | None = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="An unmatched box lying this much inside a bigger confirmed or lost track "
        "of its label is a part of that animal and starts no track; unset: every unmatched "
        "box starts one.",
    )
    tentative_max_misses: int = Field(
        default=1, ge=0, description="Misses in a row after which a tentative track is dropped."
    )
    max_age_s: float = Field(
        default=3.0, ge=0.0, description="Seconds a lost track is kept for re-identification."
    )
    still_max_age_s: float = Field(
        default=10.0,
        ge=0.0,
        description="Seconds a lost track is kept when it stood still before it was lost (an "
        "animal hidden behind another, or missed on dark frames, is found where it stood).",
    )
    still_min_s: float = Field(
        default=2.0, ge=0.0, description="Standing still this long earns `still_max_age_s`."
    )
    max_misses: int | None = Field(
        default=None, ge=1, description="Also drop a lost track after this many missed frames."
    )
    max_predict_s: float = Field(
        default=1.0, ge=0.0, description="Constant-velocity prediction is not extended further."
    )
    velocity_smoothing: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Weight of the newest velocity (0-1, EMA)."
    )
    stationary_radius: float = Field(
        default=0.15, gt=0.0, description="Stillness radius, in box diagonals."
    )
    history_size: int = Field(default=300, ge=2, description="Positions kept per track.")


class TrackState(StrEnum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    REMOVED = "removed"


class Position(NamedTuple):
    """Where a track's box centre was at time t."""

    t: float
    x: float
    y: float


class Track:
    """One object followed across frames. Read it; only the tracker changes it."""

    __slots__ = (
        "_anchor",
        "_settings",
        "_still_since",
        "box",
        "class_id",
        "detection",
        "first_seen",
        "history",
        "hits",
        "id",
        "label",
        "last_seen",
        "misses",
        "reacquired",
        "state",
        "vx",
        "vy",
    )

    def __init__(self, track_id: int, detection: Detection, t: float, settings: TrackerSettings):
        self._settings = settings
        self.id = track_id
        self.label = detection.label
        self.class_id = detection.class_id
        self.state = TrackState.TENTATIVE
        self.hits = 0
        self.misses = 0
        self.reacquired = 0
        self.first_seen = t
        self.last_seen = t
        self.vx = 0.0
        self.vy = 0.0
        self.history: deque[Position] = deque(maxlen=settings.history_size)
        self.detection = detection
        self.box: Box = (detection.x1, detection.y1, detection.x2, detection.y2)
        self._anchor = (0.0, 0.0)
        self._still_since = t
        self._observe(detection, t)

    def __repr__(self) -> str:
        return f"Track({self.id}, {self.label}, {self.state.value}, hits={self.hits})"

    @property
    def centre(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return ((x1 + x2) * 0.5, (y1 + y2) * 0.5)

    @property
    def score(self) -> float:
        return self.detection.score

    @property
    def speed(self) -> float:
        """Smoothed speed of the box centre, in frame units per second."""
        return math.hypot(self.vx, self.vy)

    @property
    def stationary_since(self) -> float:
        """Time since which the centre has stayed within the stillness radius."""
        return self._still_since

    @property
    def stationary_s(self) -> float:
        """How long the centre has stayed within the stillness radius (up to last seen)."""
        return self.last_seen - self._still_since

    @property
    def age_s(self) -> float:
        return self.last_seen - self.first_seen

    def anchor(self, kind: AnchorKind = "bottom_center") -> tuple[float, float]:
        """The point standing for the object: bottom centre (its feet) or centre."""
        return anchor_of(self.box, kind)

    def predicted_box(self, t: float) -> Box:
        """Where the box should be at `t` if it keeps its velocity."""
        dt = min(max(t - self.last_seen, 0.0), self._settings.max_predict_s)
        dx, dy = self.vx * dt, self.vy * dt
        x1, y1, x2, y2 = self.box
        return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)

    def _observe(self, detection: Detection, t: float) -> None:
        x1, y1, x2, y2 = box = (detection.x1, detection.y1, detection.x2, detection.y2)
        cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
        if self.hits:
            dt = t - self.last_seen
            if dt > 0.0:
                bx1, by1, bx2, by2 = self.box
                ivx = (cx - (bx1 + bx2) * 0.5) / dt
                ivy = (cy - (by1 + by2) * 0.5) / dt
                a = 1.0 if self.hits == 1 else self._settings.velocity_smoothing
                self.vx += a * (ivx - self.vx)
                self.vy += a * (ivy - self.vy)
        radius = self._settings.stationary_radius * math.hypot(x2 - x1, y2 - y1)
        ax, ay = self._anchor
        if not self.hits or math.hypot(cx - ax, cy - ay) > radius:
            self._anchor = (cx, cy)
            self._still_since = t
        self.detection = detection
        self.box = box
        self.class_id = detection.class_id
        self.last_seen = t
        self.hits += 1
        self.misses = 0
        self.history.append(Position(t, cx, cy))


@dataclass(frozen=True, slots=True)
class TrackerUpdate:
    """The tracks after one update, by state."""

    t: float
    confirmed: list[Track]
    """Confirmed tracks matched in this frame (the objects seen now)."""
    tentative: list[Track]
    lost: list[Track]
    removed: list[Track]
    """Tracks removed in this update."""


class Tracker:
    """Tracks of one camera. Not thread-safe; call `update` once per inferred frame."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._tracks: list[Track] = []
        self._next_id = 1
        self._classes: dict[str, int] = {}
        self._last_t: float | None = None

    @property
    def tracks(self) -> list[Track]:
        """Every track not yet removed (tentative, confirmed and lost)."""
        return list(self._tracks)

    def update(self, detections: Sequence[Detection], t: float) -> TrackerUpdate:
        """Associate one frame's detections taken at `t` (seconds) with the tracks."""
        if not math.isfinite(t):
            raise TrackerError(f"frame time {t!r} is not a finite number")
        if self._last_t is not None and t < self._last_t:
            raise TrackerError(f"frame time {t} is before the previous frame's {self._last_t}")
        self._last_t = t
        tracks = self._tracks
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        if tracks and detections:
            for r, c in self._associate(tracks, detections, t):
                matched_tracks.add(r)
                matched_dets.add(c)
                track = tracks[r]
                track._observe(detections[c], t)
                if track.state is TrackState.LOST:
                    track.reacquired += 1
                    track.state = TrackState.CONFIRMED
                elif track.hits >= self.settings.min_hits:
                    track.state = TrackState.CONFIRMED
        confirmed: list[Track] = []
        tentative: list[Track] = []
        lost: list[Track] = []
        removed: list[Track] = []
        kept: list[Track] = []
        buckets = {
            TrackState.CONFIRMED: confirmed,
            TrackState.TENTATIVE: tentative,
            TrackState.LOST: lost,
            TrackState.REMOVED: removed,
        }
        for i, track in enumerate(tracks):
            if i not in matched_tracks:
                track.misses += 1
                self._age(track, t)
            buckets[track.state].append(track)
            if track.state is not TrackState.REMOVED:
                kept.append(track)
        held = [tr for tr in kept if tr.state is not TrackState.TENTATIVE]
        for c, detection in enumerate(detections):
            if c not in matched_dets and not self._part_of(detection, held):
                track = Track(self._next_id, detection, t, self.settings)
                self._classes.setdefault(track.label, len(self._classes))
                self._next_id += 1
                if self.settings.min_hits <= 1:
                    track.state = TrackState.CONFIRMED
                    confirmed.append(track)
                else:
                    tentative.append(track)
                kept.append(track)
        self._tracks = kept
        return TrackerUpdate(t, confirmed, tentative, lost, removed)

    def _part_of(self, detection: Detection, tracks: list[Track]) -> bool:
        """Whether an unmatched box lies mostly inside a bigger confirmed or lost track of its
        label (a head, a patch of hide): it starts no track of its own."""
        share = self.settings.part_inside
        if share is None:
            return False
        x1, y1, x2, y2 = detection.x1, detection.y1, detection.x2, detection.y2
        area = (x2 - x1) * (y2 - y1)
        if area <= 0.0:
            return False
        for track in tracks:
            if track.label != detection.label:
                continue
            bx1, by1, bx2, by2 = track.box
            if (bx2 - bx1) * (by2 - by1) <= area:
                continue
            ix = max(0.0, min(x2, bx2) - max(x1, bx1))
            iy = max(0.0, min(y2, by2) - max(y1, by1))
            if ix * iy >= share * area:
                return True
        return False

    def _age(self, track: Track, t: float) -> None:
        s = self.settings
        if track.state is TrackState.TENTATIVE:
            if track.misses > s.tentative_max_misses:
                track.state = TrackState.REMOVED
            return
        track.state = TrackState.LOST
        still = track.stationary_s >= s.still_min_s
        too_old = t - track.last_seen > max(s.max_age_s, s.still_max_age_s if still else 0.0)
        if too_old or (s.max_misses is not None and track.misses > s.max_misses):
            track.state = TrackState.REMOVED

    def _associate(
        self, tracks: list[Track], detections: Sequence[Detection], t: float
    ) -> list[tuple[int, int]]:
        s = self.settings
        codes = self._classes
        det_boxes = boxes_of(detections)
        det_codes = np.array([codes.setdefault(d.label, len(codes)) for d in detections])
        trk_codes = np.array([codes[tr.label] for tr in tracks])
        last = np.array([tr.box for tr in tracks], dtype=np.float64)
        vel = np.array([(tr.vx, tr.vy) for tr in tracks], dtype=np.float64)
        unseen = np.array([t - tr.last_seen for tr in tracks], dtype=np.float64)
        shift = vel * np.minimum(unseen, s.max_predict_s)[:, None]
        predicted = last + np.hstack((shift, shift))
        same = trk_codes[:, None] == det_codes[None, :]

        sim = iou_matrix(predicted, det_boxes)
        sim[(sim < s.iou_min) | ~same] = 0.0
        pairs = match(sim)

        free_rows = np.ones(len(tracks), dtype=bool)
        free_cols = np.ones(len(detections), dtype=bool)
        for r, c in pairs:
            free_rows[r] = free_cols[c] = False
        rows, cols = np.flatnonzero(free_rows), np.flatnonzero(free_cols)
        if rows.size and cols.size:
            sim2 = _distance_similarity(
                predicted[rows], det_boxes[cols], unseen[rows], same[rows][:, cols], s
            )
            pairs += [(int(rows[r]), int(cols[c])) for r, c in match(sim2)]
        return pairs


def _distance_similarity(
    tracks: Array, dets: Array, unseen: Array, same: np.ndarray, s: TrackerSettings
) -> Array:
    """1 at the same centre, falling to 0 at the gate radius; 0 where no match is allowed."""
    tc = (tracks[:, :2] + tracks[:, 2:]) * 0.5
    dc = (dets[:, :2] + dets[:, 2:]) * 0.5
    dist = np.hypot(tc[:, None, 0] - dc[None, :, 0], tc[:, None, 1] - dc[None, :, 1])
    t_diag = np.hypot(tracks[:, 2] - tracks[:, 0], tracks[:, 3] - tracks[:, 1])
    d_diag = np.hypot(dets[:, 2] - dets[:, 0], dets[:, 3] - dets[:, 1])
    growth: Array = np.minimum(s.gate_growth_per_s * unseen, s.max_gate_growth)
    gate = np.maximum(s.min_distance_gate, s.distance_gate * t_diag) + growth
    sim = 1.0 - dist / np.maximum(gate, 1e-9)[:, None]
    big = np.maximum(t_diag[:, None], d_diag[None, :])
    small = np.minimum(t_diag[:, None], d_diag[None, :])
    sized = big <= s.max_size_change * np.maximum(small, 1e-9)
    sim[~(same & sized) | (sim < 0.0)] = 0.0
    return sim


MOVING_WINDOW_S = 0.9  # on the move: judged over at least this long
MOVING_MAX_AGE_S = 3.0  # and at most this long (older positions say nothing of now)
MOVING_SHARE = 0.05  # of the box diagonal per second: a walk, not box jitter


def position_before(track: Track, t: float) -> Position | None:
    """The latest position of the track at least `MOVING_WINDOW_S` before `t`, if it is not
    older than `MOVING_MAX_AGE_S` (older positions say nothing of how it moves now)."""
    past = next((p for p in reversed(track.history) if t - p.t >= MOVING_WINDOW_S), None)
    return None if past is None or t - past.t > MOVING_MAX_AGE_S else past


def on_the_move(track: Track, t: float) -> bool:
    """Whether the track's centre moved at least `MOVING_SHARE` of its box diagonal per second
    over the last `MOVING_WINDOW_S` or more (box jitter of a standing animal does not)."""
    past = position_before(track, t)
    if past is None:
        return False
    x1, y1, x2, y2 = track.box
    moved = math.hypot((x1 + x2) / 2 - past.x, (y1 + y2) / 2 - past.y)
    return moved >= MOVING_SHARE * math.hypot(x2 - x1, y2 - y1) * (t - past.t)
