"""Errors of the camera sources; the reader turns them into reconnects and `offline` health."""

from __future__ import annotations

from appliance.errors import ApplianceError


class CameraError(ApplianceError):
    """Base of every camera error."""


class CameraSettingsError(CameraError):
    """Camera settings are invalid; the message names the camera, the key and the reason."""


class CameraOpenError(CameraError):
    """The source cannot be opened (unreachable, refused, missing file, no such device)."""


class CameraReadError(CameraError):
    """An open source stopped delivering frames (stream ended, connection lost, bad data)."""
