"""Errors raised by the scene composer."""


class SceneError(Exception):
    """Base class for scene composer errors."""


class AssetError(SceneError):
    """A photo, cut-out or background is missing or unreadable."""


class BadSettingsError(SceneError):
    """A size, rate or duration the composer cannot use."""


class UnknownSceneError(SceneError):
    """No preset has the requested name."""


class VideoWriteError(SceneError):
    """The video file could not be written."""
