"""Build the configured object store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sync_server.media.local import LocalObjectStore
from sync_server.media.s3 import S3ObjectStore
from sync_server.media.service import MediaService
from sync_server.media.settings import MediaSettings
from sync_server.media.store import ObjectStore


def make_object_store(settings: MediaSettings) -> ObjectStore:
    if settings.backend == "s3":
        return S3ObjectStore(settings.s3, max_object_bytes=settings.max_object_bytes)
    local = settings.local
    return LocalObjectStore(
        local.directory,
        secret=local.url_secret.get_secret_value().encode() if local.url_secret else None,
        max_object_bytes=settings.max_object_bytes,
        public_url=local.public_url,
    )


@asynccontextmanager
async def media_service(settings: MediaSettings) -> AsyncIterator[MediaService]:
    """The media service over the configured store, for the lifetime of the block."""
    store = make_object_store(settings)
    await store.start()
    try:
        yield MediaService(store, settings)
    finally:
        await store.close()
