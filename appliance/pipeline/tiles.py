"""Night tiles: at night the frame is looked at again in overlapping tiles.

On a dark, grainy frame shrunk whole to the detector's 300 px input, the shipped SSD finds
almost no animal (measured on the composed night scenes: 0 of 100 cows boxed), while the same
animals in tiles two thirds of the frame's height are boxed a third of the time or more. The
tiles overlap by half a tile, so any animal up to half a tile wide lies whole in at least one
tile; boxes cut by a tile's inner edge are dropped (they are parts of something larger), and
the same object found in two tiles, or by the whole frame, is kept once (the best score).
Measurements and the cost: docs/adr/0016-night-tiles.md.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from appliance.analyzers.steady import covered, iou
from appliance.pipeline.closer import Region, corners
from contracts.vision import Detection

SAME_OBJECT_IOU = 0.5  # boxes of one label overlapping this much are one object
PART_OF = 0.6  # share of a box inside a box of another label at least PART_AREA times larger
PART_AREA = 2.0


class NightTilesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        default=False,
        description="At night, run the detector again on overlapping tiles of the frame "
        "(dark animals are too small for it on the whole frame shrunk to its input). Off by "
        "default: it finds night escapes, intruders and predators, but the part boxes it "
        "also finds make false head-count drops (docs/adr/0016-night-tiles.md).",
    )
    tile_share: float = Field(
        default=2 / 3,
        gt=0,
        le=1,
        description="A tile's side as a share of the frame's height.",
    )
    stride_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Step between tiles as a share of a tile's side (0.5: tiles overlap by "
        "half, so an animal up to half a tile wide is whole in one of them).",
    )


def tiles(width: int, height: int, settings: NightTilesSettings) -> list[Region]:
    """The tiles of a `width` x `height` frame, row by row."""
    side = max(1, round(settings.tile_share * height))
    stride = max(1.0, side * settings.stride_share)
    xs, ys = _starts(width, side, stride), _starts(height, side, stride)
    return [Region(x, y, min(width, x + side), min(height, y + side)) for y in ys for x in xs]


def _starts(full: int, side: int, stride: float) -> list[int]:
    if full <= side:
        return [0]
    count = math.ceil((full - side) / stride) + 1
    return [round(i * (full - side) / (count - 1)) for i in range(count)]


def merge(detections: list[Detection]) -> list[Detection]:
    """One box per object: best score first, a box of the same label overlapping a kept one
    by `SAME_OBJECT_IOU` or more is the same object. A box lying mostly inside a much larger
    box of another label is dropped: on a dark tile the black patches of a Holstein are boxed
    as dogs (measured: nearly every false dog of the night scenes lay inside a cow's box)."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: -d.score):
        if not any(
            k.label == d.label and iou(corners(d), corners(k)) >= SAME_OBJECT_IOU for k in kept
        ):
            kept.append(d)
    return [
        d
        for d in kept
        if not any(
            o.label != d.label
            and o.area >= PART_AREA * d.area
            and covered(corners(d), corners(o)) >= PART_OF
            for o in kept
        )
    ]
