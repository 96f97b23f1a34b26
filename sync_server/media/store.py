"""The object store interface: pre-signed upload and download URLs, and what was stored."""

from __future__ import annotations

import mimetypes
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sync_server.media.errors import InvalidKeyError, ObjectTooLargeError

_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){0,7}$")


def check_key(key: str) -> str:
    """A key is a relative path of plain segments (no `..`, no leading dot, no slashes doubled)."""
    if not _KEY.fullmatch(key):
        raise InvalidKeyError(f"object key {key!r} is not a safe relative path")
    return key


def media_key(farm_id: str, media_id: UUID, content_type: str) -> str:
    """The object key of one media file: its id, grouped by farm, with the usual extension."""
    extension = mimetypes.guess_extension(content_type) or ""
    return check_key(f"media/{farm_id}/{media_id}{extension}")


@dataclass(frozen=True)
class PresignedRequest:
    """One HTTP request a client may make without credentials until `expires_at`."""

    url: str
    method: str
    expires_at: datetime
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    """What the store holds under a key; `sha256` only when the store computed or verified it."""

    size: int
    sha256: str | None


class ObjectStore(ABC):
    """Where media bytes live; nothing is proxied through the API, clients use signed URLs."""

    def __init__(self, *, max_object_bytes: int) -> None:
        self.max_object_bytes = max_object_bytes

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare the store (create the directory or bucket)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""

    def check_size(self, size: int) -> None:
        """Raise `ObjectTooLargeError` for a size over `max_object_bytes`."""
        if size > self.max_object_bytes:
            raise ObjectTooLargeError(f"{size} bytes is over the {self.max_object_bytes} allowed")

    async def presign_upload(
        self,
        key: str,
        *,
        size: int,
        sha256: str,
        content_type: str,
        expires_in: timedelta,
        base_url: str,
    ) -> PresignedRequest:
        """A PUT of exactly these bytes to `key`; `base_url` is central's, as the caller saw it.

        Raises `ObjectTooLargeError` for a size over `max_object_bytes`.
        """
        self.check_size(size)
        return await self._presign_upload(
            key,
            size=size,
            sha256=sha256,
            content_type=content_type,
            expires_in=expires_in,
            base_url=base_url,
        )

    @abstractmethod
    async def _presign_upload(
        self,
        key: str,
        *,
        size: int,
        sha256: str,
        content_type: str,
        expires_in: timedelta,
        base_url: str,
    ) -> PresignedRequest:
        """`presign_upload` once the size is known to be allowed."""

    @abstractmethod
    async def presign_download(
        self, key: str, *, expires_in: timedelta, base_url: str
    ) -> PresignedRequest:
        """A GET of the object under `key`."""

    @abstractmethod
    async def stat(self, key: str) -> ObjectInfo | None:
        """Size (and checksum when known) of the object, or None when there is none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""
