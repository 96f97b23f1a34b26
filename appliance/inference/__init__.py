"""The model runner: detector plugins in supervised worker processes, reached over Unix sockets.

`Runner` starts one worker per configured plugin, restarts it when it crashes or hangs and
quarantines a plugin that keeps crashing; `Runner.detect` (see `client.RunnerClient`) sends a
frame through shared memory and returns the plugin's detections.
"""

from appliance.inference.client import DetectResult, RunnerClient
from appliance.inference.errors import (
    DeadlineExceeded,
    InferenceError,
    InferFailed,
    InvalidFrame,
    PluginQuarantined,
    PluginRefused,
    RunnerUnavailable,
    UnknownPlugin,
)
from appliance.inference.runner import Runner
from appliance.inference.settings import PluginSpec, RunnerSettings
from appliance.inference.status import PluginState, PluginStatus, RunnerEvent

__all__ = [
    "DeadlineExceeded",
    "DetectResult",
    "InferFailed",
    "InferenceError",
    "InvalidFrame",
    "PluginQuarantined",
    "PluginRefused",
    "PluginSpec",
    "PluginState",
    "PluginStatus",
    "Runner",
    "RunnerClient",
    "RunnerEvent",
    "RunnerSettings",
    "RunnerUnavailable",
    "UnknownPlugin",
]
