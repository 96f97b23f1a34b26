"""Scene composer: synthetic farm videos with ground truth, built from real farm photos.

Standalone: imports only numpy, OpenCV, pydantic and the standard library.
"""

from appliance.scenes.compose import Result, Settings, compose
from appliance.scenes.errors import SceneError
from appliance.scenes.presets import PRESETS, build_plan
from appliance.scenes.render import Frame, render
from appliance.scenes.truth import SceneTruth, read_truth

SCENES = tuple(PRESETS)

__all__ = [
    "SCENES",
    "Frame",
    "Result",
    "SceneError",
    "SceneTruth",
    "Settings",
    "build_plan",
    "compose",
    "read_truth",
    "render",
]
