"""Settings of the vision pipelines: the runner, shared processing, and each camera."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from appliance.analyzers.registry import AnalyzerSettings, default_analyzers
from appliance.camera.settings import CameraSettings
from appliance.inference.settings import PluginSpec, RunnerSettings
from appliance.pipeline.closer import CloserLookSettings
from appliance.pipeline.tiles import NightTilesSettings
from appliance.vision.settings import NIGHT_MIN_SCORE, VisionSettings
from appliance.vision.tracker import TrackerSettings
from appliance.vision.zones import ZoneSettings


def _default_runner() -> RunnerSettings:
    # the detector keeps boxes down to the night profile's threshold; the day one is higher
    config = {"type": "model", "score": NIGHT_MIN_SCORE}
    return RunnerSettings(plugins=[PluginSpec(name="coco", config=config)])


def _default_processing() -> VisionSettings:
    # two hits confirm a track: 0.4 s at 5 fps keeps alerts fast and flicker out
    return VisionSettings(tracker=TrackerSettings(min_hits=2))


class CameraPipelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: CameraSettings = Field(description="Where the video comes from and how it is gated.")
    detector: str = Field(default="coco", description="Runner plugin that looks at the frames.")
    deadline_s: float = Field(default=1.0, gt=0, description="Longest wait for detections.")
    zones: ZoneSettings = Field(default_factory=ZoneSettings, description="This camera's zones.")
    analyzers: list[AnalyzerSettings] = Field(
        default_factory=default_analyzers, description="Rules turning tracks into farm events."
    )
    closer_look: CloserLookSettings = Field(
        default_factory=CloserLookSettings,
        description="A second inference on the part of a frame that moved with no detection.",
    )
    night_tiles: NightTilesSettings = Field(
        default_factory=NightTilesSettings,
        description="At night, the frame looked at again in overlapping tiles.",
    )
    health_repeat_s: float = Field(
        default=30.0, gt=0, description="Re-report an active camera problem this often."
    )


class VisionPipelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runner: RunnerSettings = Field(
        default_factory=_default_runner, description="Detector plugins and their supervision."
    )
    processing: VisionSettings = Field(
        default_factory=_default_processing, description="Filters, night profile and tracker."
    )
    cameras: list[CameraPipelineSettings] = Field(
        default_factory=list, description="The farm's cameras."
    )

    @model_validator(mode="after")
    def _camera_ids_unique_and_detectors_known(self) -> VisionPipelineSettings:
        ids = [c.source.id for c in self.cameras]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera ids must be unique: {ids}")
        plugins = {p.name for p in self.runner.plugins}
        for camera in self.cameras:
            if camera.detector not in plugins:
                raise ValueError(
                    f"camera {camera.source.id}: detector {camera.detector!r} is not a runner "
                    f"plugin ({sorted(plugins)})"
                )
        return self
