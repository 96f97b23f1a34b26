"""Vision stage after the detector: per-class filters, night profile, tracker, zones.

    detections -> ProfileSelector.select_profile(now, brightness).apply(...)
               -> Tracker.update(detections, t) -> ZoneMonitor.update(...) -> zone events

Pure numeric code (numpy); no I/O, no threads. One `ProfileSelector`, `Tracker` and
`ZoneMonitor` per camera.
"""

from appliance.vision.errors import (
    TrackerError,
    VisionConfigError,
    VisionError,
    ZoneConfigError,
)
from appliance.vision.filters import (
    DEFAULT_LABELS,
    ClassRule,
    ClassRulePatch,
    FilterSettings,
    Profile,
    Rejection,
)
from appliance.vision.geometry import iou_matrix
from appliance.vision.polygon import points_in_polygon
from appliance.vision.profile import NightSettings, ProfileSelector, TimeWindow, mean_luma
from appliance.vision.settings import VisionSettings, load_vision_settings
from appliance.vision.tracker import (
    Position,
    Track,
    Tracker,
    TrackerSettings,
    TrackerUpdate,
    TrackState,
)
from appliance.vision.zones import (
    ZoneConfig,
    ZoneEvent,
    ZoneKind,
    ZoneMonitor,
    ZoneSettings,
    load_zone_settings,
)

__all__ = [
    "DEFAULT_LABELS",
    "ClassRule",
    "ClassRulePatch",
    "FilterSettings",
    "NightSettings",
    "Position",
    "Profile",
    "ProfileSelector",
    "Rejection",
    "TimeWindow",
    "Track",
    "TrackState",
    "Tracker",
    "TrackerError",
    "TrackerSettings",
    "TrackerUpdate",
    "VisionConfigError",
    "VisionError",
    "VisionSettings",
    "ZoneConfig",
    "ZoneConfigError",
    "ZoneEvent",
    "ZoneKind",
    "ZoneMonitor",
    "ZoneSettings",
    "iou_matrix",
    "load_vision_settings",
    "load_zone_settings",
    "mean_luma",
    "points_in_polygon",
]
