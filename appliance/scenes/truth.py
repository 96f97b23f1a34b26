"""Ground truth written next to each composed video."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.scenes.paths import inside

SCHEMA_VERSION: Literal[1] = 1

ZoneKind = Literal["pen", "pasture", "gate", "road", "restricted", "trough", "calving_pen"]
ConditionKind = Literal[
    "escape", "intruder", "predator", "animal_down", "headcount_drop", "crowding"
]
Point = tuple[int, int]
BBox = tuple[int, int, int, int]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Zone(_Model):
    name: str = Field(description="Zone name, unique in the scene.")
    kind: ZoneKind = Field(description="What the zone is on the farm.")
    polygon: list[Point] = Field(min_length=3, description="Vertices in frame pixels.")

    def contains(self, point: tuple[float, float]) -> bool:
        return inside(point, [(float(x), float(y)) for x, y in self.polygon])


class Track(_Model):
    track_id: int = Field(ge=1, description="Stable id of one animal or person.")
    label: str = Field(description="COCO class name: cow, sheep, horse, person, dog ...")
    sprite: str = Field(description="Cut-out used to draw it.")


class Condition(_Model):
    condition: ConditionKind = Field(description="The scripted farm event.")
    track_id: int = Field(ge=1, description="Who it is about.")
    start_frame: int = Field(ge=0, description="First frame on which the condition holds.")
    start_s: float = Field(ge=0, description="start_frame in seconds.")
    zone: str | None = Field(default=None, description="Zone the condition refers to.")
    note: str = Field(default="", description="How start_frame was decided.")


class ObjectBox(_Model):
    track_id: int = Field(ge=1)
    label: str
    bbox: BBox = Field(description="x1, y1, x2, y2 in pixels; x2 and y2 exclusive; in frame.")
    visibility: float = Field(
        ge=0, le=1, description="Share of the object's pixels that are seen (frame edge, overlap)."
    )
    moving: bool = Field(description="Whether it moved since the previous frame.")


class FrameTruth(_Model):
    frame: int = Field(ge=0)
    t: float = Field(ge=0, description="Seconds from the start.")
    objects: list[ObjectBox]


class SceneTruth(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    scene: str
    seed: int
    night: bool
    video: str = Field(description="Video file name, in the same folder.")
    fps: float = Field(gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    frame_count: int = Field(ge=1)
    anchor: Literal["bottom_center"] = Field(
        default="bottom_center", description="Point of a box that zones are tested against."
    )
    tracks: list[Track]
    zones: list[Zone]
    conditions: list[Condition]
    frames: list[FrameTruth]

    def zone(self, name: str) -> Zone:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise KeyError(name)

    def boxes(self, track_id: int) -> dict[int, BBox]:
        """Frame index -> box of one track, for the frames where it is seen."""
        return {
            frame.frame: obj.bbox
            for frame in self.frames
            for obj in frame.objects
            if obj.track_id == track_id
        }


def anchor(bbox: BBox) -> tuple[float, float]:
    """The point of a box that is tested against zones: the middle of its bottom edge."""
    x1, _, x2, y2 = bbox
    return (x1 + x2) / 2, float(y2)


def read_truth(path: Path) -> SceneTruth:
    return SceneTruth.model_validate_json(path.read_text(encoding="utf-8"))


def write_truth(truth: SceneTruth, path: Path) -> None:
    path.write_text(truth.model_dump_json(), encoding="utf-8")
