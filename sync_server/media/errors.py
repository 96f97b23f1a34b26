"""Errors of the media context; the HTTP edge maps them to status codes."""

from __future__ import annotations

from sync_server.errors import CentralServerError


class MediaError(CentralServerError):
    """Base of every media error."""


class ObjectStoreError(MediaError):
    """The object store failed or could not be reached."""


class InvalidKeyError(MediaError):
    """An object key that is not a safe relative path."""


class UrlRefusedError(MediaError):
    """A signed object URL is expired, tampered with or used with the wrong method."""


class ObjectTooLargeError(MediaError):
    """An object is bigger than the store accepts."""


class MediaConflictError(MediaError):
    """The media id is known with different content, or belongs to another farm."""


class MediaNotFoundError(MediaError):
    """No such media for this farm."""


class UploadIncompleteError(MediaError):
    """The object is missing or does not match the declared size and checksum."""
