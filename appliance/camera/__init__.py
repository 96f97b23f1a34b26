"""Camera sources (RTSP, HTTP MJPEG/snapshot, file, USB), camera health and motion gating.

`CameraSource` reads one camera in a thread (reconnecting with backoff, watched by a watchdog),
reports health changes as `CameraHealthEvent`s and yields the frames worth inference.
"""

from appliance.camera.errors import (
    CameraError,
    CameraOpenError,
    CameraReadError,
    CameraSettingsError,
)
from appliance.camera.frames import Frame, InferenceFrame, InferReason
from appliance.camera.health import CameraCondition, CameraHealthEvent
from appliance.camera.settings import (
    CameraKind,
    CameraSettings,
    HealthSettings,
    MotionSettings,
    NightAllowance,
    ReconnectSettings,
    parse_camera_settings,
)
from appliance.camera.source import CameraCounters, CameraSource, HealthCallback

__all__ = [
    "CameraCondition",
    "CameraCounters",
    "CameraError",
    "CameraHealthEvent",
    "CameraKind",
    "CameraOpenError",
    "CameraReadError",
    "CameraSettings",
    "CameraSettingsError",
    "CameraSource",
    "Frame",
    "HealthCallback",
    "HealthSettings",
    "InferReason",
    "InferenceFrame",
    "MotionSettings",
    "NightAllowance",
    "ReconnectSettings",
    "parse_camera_settings",
]
