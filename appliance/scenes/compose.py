"""Compose a scene: draw every frame, write the video and its ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.scenes import layout
from appliance.scenes.errors import BadSettingsError
from appliance.scenes.presets import ConditionSpec, build_plan
from appliance.scenes.render import Frame, render
from appliance.scenes.sprites import load_sprite
from appliance.scenes.truth import (
    Condition,
    FrameTruth,
    SceneTruth,
    Track,
    Zone,
    anchor,
    write_truth,
)
from appliance.scenes.video import VideoWriter

DEFAULT_SIZE = (640, 360)
DEFAULT_FPS = 10.0
MIN_SECONDS = 2.0
APPEARS_SEEN = 0.5  # share of an object's pixels seen from which it has appeared

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Settings:
    scene: str
    seconds: float = 20.0
    fps: float = DEFAULT_FPS
    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]
    night: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.fps <= 0:
            raise BadSettingsError(f"seconds and fps must be positive: {self.seconds}, {self.fps}")
        if min(self.width, self.height) < 64 or self.width % 2 or self.height % 2:
            raise BadSettingsError(f"size must be even and at least 64: {self.width}x{self.height}")

    @property
    def frame_count(self) -> int:
        return max(round(self.seconds * self.fps), 1)

    def frame(self) -> Frame:
        return Frame(self.width, self.height, self.fps, self.frame_count, self.night, self.seed)

    @property
    def stem(self) -> str:
        return f"{self.scene}_night" if self.night else self.scene


@dataclass(frozen=True)
class Result:
    video: Path
    truth_path: Path
    truth: SceneTruth


def find_conditions(
    specs: list[ConditionSpec], frames: list[FrameTruth], zones: list[Zone], fps: float
) -> list[Condition]:
    """Decide each condition's start frame from the drawn boxes."""
    out = []
    for spec in specs:
        start = _start_frame(spec, frames, zones)
        out.append(
            Condition(
                condition=spec.condition,
                track_id=spec.track_id,
                start_frame=start,
                start_s=round(start / fps, 4),
                zone=spec.zone,
                note=_NOTES[spec.rule],
            )
        )
    return out


_NOTES = {
    "leaves_zone": "first frame whose box anchor is outside the zone, never back in after it",
    "enters_zone": "first frame whose box anchor is inside the zone",
    "appears": "first frame on which at least half of it is seen (not off the frame or hidden)",
    "stops": "first frame after which it never moves again",
}


def _start_frame(spec: ConditionSpec, frames: list[FrameTruth], zones: list[Zone]) -> int:
    track = [(f.frame, o) for f in frames for o in f.objects if o.track_id == spec.track_id]
    if spec.rule == "appears":  # a sliver at the frame edge is nothing anyone can recognise
        seen = (index for index, obj in track if obj.visibility >= APPEARS_SEEN)
        return next(seen, len(frames))
    if spec.rule == "stops":
        moving = [index for index, obj in track if obj.moving]
        return moving[-1] + 1 if moving else 0
    zone = next(z for z in zones if z.name == spec.zone)
    inside_at = [(index, zone.contains(anchor(obj.bbox))) for index, obj in track]
    if spec.rule == "enters_zone":
        return next((index for index, inside in inside_at if inside), len(frames))
    last_inside = max((index for index, inside in inside_at if inside), default=-1)
    return last_inside + 1


def compose(settings: Settings, out_dir: Path, progress: Progress | None = None) -> Result:
    """Write `<stem>.mp4` and `<stem>.json` into out_dir."""
    plan = build_plan(settings.scene, settings.seed, settings.seconds)
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / f"{settings.stem}.mp4"
    truth_path = out_dir / f"{settings.stem}.json"
    frames: list[FrameTruth] = []
    total = settings.frame_count
    with VideoWriter(video, settings.fps, settings.width, settings.height) as writer:
        for image, frame in render(plan, settings.frame()):
            writer.write(image)
            frames.append(frame)
            if progress is not None:
                progress(len(frames), total)
    zones = [_zone(spec, settings.width, settings.height) for spec in plan.zones]
    truth = SceneTruth(
        scene=settings.scene,
        seed=settings.seed,
        night=settings.night,
        video=video.name,
        fps=settings.fps,
        width=settings.width,
        height=settings.height,
        frame_count=total,
        tracks=[
            Track(track_id=a.track_id, label=load_sprite(a.sprite).label, sprite=a.sprite)
            for a in plan.actors
        ],
        zones=zones,
        conditions=find_conditions(plan.conditions, frames, zones, settings.fps),
        frames=frames,
    )
    write_truth(truth, truth_path)
    return Result(video, truth_path, truth)


def _zone(spec: layout.ZoneSpec, width: int, height: int) -> Zone:
    polygon = [(round(x * width), round(y * height)) for x, y in spec.polygon]
    return Zone(name=spec.name, kind=spec.kind, polygon=polygon)
