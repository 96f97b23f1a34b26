"""The local object store: files under a directory, reached through HMAC-signed URLs.

Central serves the URLs itself (see `sync_server.api.media`); an upload is written to a
temporary file and renamed into place once complete, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sync_server.media import urls
from sync_server.media.errors import ObjectStoreError, ObjectTooLargeError
from sync_server.media.store import ObjectInfo, ObjectStore, PresignedRequest, check_key

_CHUNK = 1024 * 1024


class LocalObjectStore(ObjectStore):
    def __init__(
        self,
        directory: Path,
        *,
        secret: bytes | None,
        max_object_bytes: int,
        public_url: str | None = None,
    ) -> None:
        super().__init__(max_object_bytes=max_object_bytes)
        self.directory = directory
        self.secret = secret or secrets.token_bytes(32)
        self.public_url = public_url

    def path(self, key: str) -> Path:
        return self.directory / check_key(key)

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
        return self._presign("PUT", key, expires_in, base_url, {"Content-Type": content_type})

    async def presign_download(
        self, key: str, *, expires_in: timedelta, base_url: str
    ) -> PresignedRequest:
        return self._presign("GET", key, expires_in, base_url, {})

    def _presign(
        self, method: str, key: str, expires_in: timedelta, base_url: str, headers: dict[str, str]
    ) -> PresignedRequest:
        expires = int(time.time() + expires_in.total_seconds())
        url = urls.signed_url(
            self.secret, self.public_url or base_url, method, check_key(key), expires
        )
        return PresignedRequest(url, method, datetime.fromtimestamp(expires, UTC), headers)

    def verify(
        self,
        request_method: str,
        key: str,
        method: str | None,
        expires: str | None,
        sig: str | None,
    ) -> Path:
        """The file a signed request may touch; raises `UrlRefusedError` otherwise."""
        path = self.path(key)
        urls.verify(
            self.secret,
            request_method=request_method,
            key=key,
            method=method,
            expires=expires,
            sig=sig,
        )
        return path

    async def write(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store a stream under `key` (all or nothing); returns its size."""
        path = self.path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
        handle = await asyncio.to_thread(temp.open, "wb")
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_object_bytes:
                    raise ObjectTooLargeError(f"the object is over {self.max_object_bytes} bytes")
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_flush_and_close, handle)
            await asyncio.to_thread(os.replace, temp, path)
        except BaseException:
            handle.close()
            with contextlib.suppress(OSError):
                await asyncio.to_thread(temp.unlink)
            raise
        return size

    async def stat(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        try:
            size, digest = await asyncio.to_thread(_hash_file, path)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ObjectStoreError(f"cannot read object {key}: {err}") from err
        return ObjectInfo(size, digest)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self.path(key).unlink)


def _flush_and_close(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
