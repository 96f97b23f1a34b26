"""Clips and snapshots of camera incidents: pre-event ring buffer, recorder, store, retention."""

from appliance.media.context import Media, media_context
from appliance.media.overlay import OverlayBox, OverlayZone
from appliance.media.settings import MediaSettings

__all__ = ["Media", "MediaSettings", "OverlayBox", "OverlayZone", "media_context"]
