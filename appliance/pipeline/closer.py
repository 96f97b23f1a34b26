"""A closer look: a second inference on the part of a frame that moved with no box to explain it.

The detector sees the whole frame shrunk to its input size, so an animal that is small, far
away or half in view (a dog walking in at the edge of the frame) can be missed for seconds while
it plainly moves. After each inferred frame the pipeline compares the frame with the previous
inferred one (the motion gate's small grey view), blanks out what the frame's detections cover,
and if a clump of changed pixels is left, runs the detector once more on a crop around it.
The crop is shrunk far less than the whole frame, so the animal is seen larger.

Only new objects are taken from the crop: boxes cut by the crop's inner edges (part of
something larger outside it) and boxes over an object the whole frame already found are
dropped, so a closer look never splits a cow in two.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from appliance.analyzers.steady import covered
from appliance.camera.frames import Image
from appliance.camera.motion import MotionGate
from appliance.vision.tracker import Box, Track
from contracts.vision import Detection

CUT_MARGIN = 0.01  # of the crop: a box this near an inner edge of the crop is cut by it
MAX_CROP = 0.6  # of the frame's area: a larger crop is hardly a closer look
SAME_OBJECT = 0.5  # share of a crop box inside a whole-frame box: the same object
ESTABLISHED_S = 5.0  # a track followed this long under one label keeps it
_JOIN = np.ones((7, 7), np.uint8)


class CloserLookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        default=True,
        description="Run the detector a second time on the part of a frame that moved with no "
        "detection to explain it (small, far or half-seen animals are found sooner).",
    )
    min_area: float = Field(
        default=0.002,
        gt=0,
        le=1,
        description="Share of the frame that must have moved, unexplained, for a closer look.",
    )
    max_area: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="More unexplained change than this share of the frame is light or weather "
        "(a cloud, the lamps coming on), not an animal: no closer look.",
    )
    crop_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="The crop's side as a share of the frame's height, at least (it grows to "
        "hold the moving region). Near the detector's own input size is best: a smaller crop "
        "is blown up and the detector mistakes half an animal for another kind.",
    )
    hold_s: float = Field(
        default=2.0,
        ge=0,
        description="Where a closer look found something new, look there again on the frames "
        "of this long after, moving or not, until the whole frame finds it.",
    )
    box_margin: float = Field(
        default=0.02,
        ge=0,
        le=0.2,
        description="Change this near a detection (share of the frame) counts as explained.",
    )


@dataclass(frozen=True, slots=True)
class Region:
    """A crop of the frame in pixels: [x1, x2) x [y1, y2)."""

    x1: int
    y1: int
    x2: int
    y2: int


class CloserLook:
    """Per camera: remembers the last inferred frame's small view and picks the crop."""

    def __init__(self, settings: CloserLookSettings, gate: MotionGate) -> None:
        self.settings = settings
        self.gate = gate
        self._previous: Image | None = None
        self._held: tuple[Region, float] | None = None  # where something new was found, when

    def region(
        self, image: Image, detections: list[Detection], t: float, view: Image | None = None
    ) -> Region | None:
        """Where to look closer on `image` (captured at `t`, found `detections`), if anywhere:
        around unexplained change, else where something new was found a moment ago. `view` is
        the image as the motion gate prepared it, if the camera did already. The frame becomes
        the one the next frame is compared with."""
        view = self.gate.prepare(image) if view is None else view
        previous, self._previous = self._previous, view
        if not self.settings.enabled or previous is None or previous.shape != view.shape:
            return None
        fresh = self._moved(previous, view, image, detections)
        if fresh is not None:
            return fresh
        if self._held is not None and t - self._held[1] <= self.settings.hold_s:
            return self._held[0]
        return None

    def found(self, region: Region, t: float, new: bool) -> bool:
        """Note what the closer look at `region` found: something `new` holds the place, nothing
        lets it go. True when this starts a hold (the pipeline then looks at the very next
        frame: a track needs a second hit)."""
        held = self._held is not None and t - self._held[1] <= self.settings.hold_s
        if new:
            self._held = (region, t)
            return not held
        if self._held is not None and self._held[0] == region:
            self._held = None
        return False

    def _moved(
        self, previous: Image, view: Image, image: Image, detections: list[Detection]
    ) -> Region | None:
        diff = cv2.absdiff(previous, view)
        _, mask = cv2.threshold(diff, self.gate.settings.pixel_threshold, 255, cv2.THRESH_BINARY)
        h, w = mask.shape
        margin = self.settings.box_margin
        for d in detections:
            x1, y1 = int((d.x1 - margin) * w), int((d.y1 - margin) * h)
            x2, y2 = int(np.ceil((d.x2 + margin) * w)), int(np.ceil((d.y2 + margin) * h))
            mask[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = 0
        changed = cv2.countNonZero(mask) / float(mask.size)
        if changed < self.settings.min_area or changed > self.settings.max_area:
            return None
        # a slow animal changes a few ragged patches: join those near each other
        joined = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _JOIN)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        if count < 2:
            return None
        changed_in = np.bincount(labels[mask > 0], minlength=count)[1:]
        biggest = 1 + int(np.argmax(changed_in))
        if changed_in[biggest - 1] < self.settings.min_area * mask.size:
            return None
        x, y, bw, bh = (int(v) for v in stats[biggest, :4])
        full_h, full_w = image.shape[:2]
        scale_x, scale_y = full_w / w, full_h / h
        return self._crop(
            (x + bw / 2) * scale_x,
            (y + bh / 2) * scale_y,
            bw * scale_x,
            bh * scale_y,
            full_w,
            full_h,
        )

    def _crop(
        self, cx: float, cy: float, bw: float, bh: float, full_w: int, full_h: int
    ) -> Region | None:
        side = max(self.settings.crop_share * full_h, 1.25 * max(bw, bh))
        cw, ch = min(full_w, round(side)), min(full_h, round(side))
        if cw * ch >= MAX_CROP * full_w * full_h:
            return None  # hardly closer than the whole frame
        x1 = int(min(max(0.0, cx - cw / 2), full_w - cw))
        y1 = int(min(max(0.0, cy - ch / 2), full_h - ch))
        return Region(x1, y1, x1 + cw, y1 + ch)


def crop(image: Image, region: Region) -> Image:
    """The region's pixels, contiguous (the runner copies frames into shared memory)."""
    return np.ascontiguousarray(image[region.y1 : region.y2, region.x1 : region.x2])


def in_frame(found: list[Detection], region: Region, width: int, height: int) -> list[Detection]:
    """A crop's detections in frame coordinates (a `width` x `height` frame), without the
    boxes cut by the crop's inner edges (parts of something larger outside it)."""
    cw, ch = region.x2 - region.x1, region.y2 - region.y1
    kept = []
    for d in found:
        if (
            (region.x1 > 0 and d.x1 <= CUT_MARGIN)
            or (region.y1 > 0 and d.y1 <= CUT_MARGIN)
            or (region.x2 < width and d.x2 >= 1 - CUT_MARGIN)
            or (region.y2 < height and d.y2 >= 1 - CUT_MARGIN)
        ):
            continue
        kept.append(
            d.model_copy(
                update={
                    "x1": (region.x1 + d.x1 * cw) / width,
                    "y1": (region.y1 + d.y1 * ch) / height,
                    "x2": (region.x1 + d.x2 * cw) / width,
                    "y2": (region.y1 + d.y2 * ch) / height,
                }
            )
        )
    return kept


def new_objects(
    found: list[Detection],
    region: Region,
    shape: tuple[int, ...],
    seen: list[Detection],
    followed: list[Track],
) -> list[Detection]:
    """The crop's detections in frame coordinates, without boxes cut by the crop's inner edges,
    boxes over something the whole frame found already (`seen`), and boxes over an object the
    tracker follows (`followed`: confirmed or lost tracks), whatever the label, unless the crop
    scores it better under another label and the track is young (one object seen as two labels
    keeps the better-scored one, as the filters do; a label held for `ESTABLISHED_S` is not
    changed by one closer look). A closer look starts tracks; it does not keep old ones
    alive (a cow walking out of view is not held at the edge of the frame by its last sliver)."""
    full_h, full_w = shape[:2]
    kept = []
    for mapped in in_frame(found, region, full_w, full_h):
        box = corners(mapped)
        if any(covered(box, corners(s)) >= SAME_OBJECT for s in seen) or any(
            (f.label == mapped.label or f.score >= mapped.score or f.age_s >= ESTABLISHED_S)
            and max(covered(box, f.box), covered(f.box, box)) >= SAME_OBJECT
            for f in followed
        ):
            continue
        kept.append(mapped)
    return kept


def corners(d: Detection) -> Box:
    """A detection's box as (x1, y1, x2, y2)."""
    return (d.x1, d.y1, d.x2, d.y2)
