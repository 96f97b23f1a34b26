"""Errors of the media context (clips and snapshots)."""

from __future__ import annotations

from appliance.errors import ApplianceError


class MediaError(ApplianceError):
    """Something went wrong recording, storing or serving media."""


class MediaNotFound(MediaError):
    """No such media, or its file was evicted."""


class MediaNotReady(MediaError):
    """The file is still being recorded."""


class EncodeError(MediaError):
    """A clip or snapshot could not be written."""
