"""What a snapshot shows on top of the frame: tracked boxes and the camera's zones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from appliance.camera.frames import Image

BOX_COLOUR = (0, 215, 255)  # BGR amber
ZONE_COLOUR = (255, 160, 0)  # BGR blue
TEXT_COLOUR = (0, 0, 0)
ZONE_FILL_ALPHA = 0.18


@dataclass(frozen=True, slots=True)
class OverlayBox:
    """One tracked object; corners are fractions of the frame (0..1)."""

    label: str
    track_id: int
    score: float
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def caption(self) -> str:
        return f"{self.label} #{self.track_id} {self.score:.2f}"


@dataclass(frozen=True, slots=True)
class OverlayZone:
    """One zone polygon; points are fractions of the frame (0..1)."""

    name: str
    kind: str
    points: tuple[tuple[float, float], ...]


def draw_overlay(image: Image, boxes: list[OverlayBox], zones: list[OverlayZone]) -> Image:
    """A copy of `image` (BGR) with the zones shaded and outlined and the boxes captioned."""
    out = image.copy()
    height, width = out.shape[:2]
    scale = max(0.4, width / 1600)
    thick = max(1, round(width / 640))
    if zones:
        shade = out.copy()
        for zone in zones:
            poly = _pixels(zone.points, width, height)
            cv2.fillPoly(shade, [poly], ZONE_COLOUR)
        cv2.addWeighted(shade, ZONE_FILL_ALPHA, out, 1 - ZONE_FILL_ALPHA, 0, dst=out)
        for zone in zones:
            poly = _pixels(zone.points, width, height)
            cv2.polylines(out, [poly], isClosed=True, color=ZONE_COLOUR, thickness=thick)
            x, y = (int(v) for v in poly.min(axis=0))
            _label(out, f"{zone.name} ({zone.kind})", x, y, ZONE_COLOUR, scale, thick)
    for box in boxes:
        p1 = (round(box.x1 * width), round(box.y1 * height))
        p2 = (round(box.x2 * width), round(box.y2 * height))
        cv2.rectangle(out, p1, p2, BOX_COLOUR, thick + 1)
        _label(out, box.caption, p1[0], p1[1], BOX_COLOUR, scale, thick)
    return out


def _pixels(points: tuple[tuple[float, float], ...], width: int, height: int) -> np.ndarray:
    return np.array([(round(x * width), round(y * height)) for x, y in points], dtype=np.int32)


def _label(
    image: Image, text: str, x: int, y: int, colour: tuple[int, int, int], scale: float, thick: int
) -> None:
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    top = max(0, y - th - base - 2)
    cv2.rectangle(image, (x, top), (x + tw + 4, top + th + base + 2), colour, cv2.FILLED)
    cv2.putText(
        image,
        text,
        (x + 2, top + th + 1),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        TEXT_COLOUR,
        thick,
        cv2.LINE_AA,
    )


class TrackLike(Protocol):
    """What a snapshot needs of a tracked object (the vision tracker's `Track` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def box(self) -> tuple[float, float, float, float]: ...


class ZoneLike(Protocol):
    """What a snapshot needs of a zone (the vision `ZoneConfig` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def points(self) -> Sequence[tuple[float, float]]: ...


def boxes_of(tracks: Iterable[TrackLike]) -> list[OverlayBox]:
    return [OverlayBox(t.label, t.id, t.score, *t.box) for t in tracks]


def zones_of(zones: Iterable[ZoneLike]) -> list[OverlayZone]:
    return [OverlayZone(z.name, str(z.kind), tuple(z.points)) for z in zones]
