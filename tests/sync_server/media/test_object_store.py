"""One suite for every object store (local directory, S3 on moto_server), over real HTTP."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from sync_server.media.errors import InvalidKeyError, ObjectTooLargeError
from sync_server.media.store import PresignedRequest, media_key
from tests.sync_server.media.conftest import MAX_OBJECT_BYTES, ServedStore

MINUTE = timedelta(minutes=1)


async def presign_put(served: ServedStore, key: str, data: bytes) -> PresignedRequest:
    return await served.store.presign_upload(
        key,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="video/mp4",
        expires_in=MINUTE,
        base_url=served.base_url,
    )


async def send(request: PresignedRequest, data: bytes | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.request(
            request.method, request.url, content=data, headers=request.headers
        )


async def test_presigned_upload_stores_the_bytes_and_download_returns_them(
    served_store: ServedStore,
) -> None:
    data = os.urandom(200_000)
    put = await presign_put(served_store, "media/farm-a/clip.mp4", data)

    uploaded = await send(put, data)
    get = await served_store.store.presign_download(
        "media/farm-a/clip.mp4", expires_in=MINUTE, base_url=served_store.base_url
    )
    downloaded = await send(get)

    assert uploaded.status_code == 200, uploaded.text
    assert (downloaded.status_code, downloaded.content) == (200, data)
    assert (put.method, get.method) == ("PUT", "GET")


async def test_stat_reports_the_stored_size_and_no_wrong_checksum(
    served_store: ServedStore,
) -> None:
    data = b"snapshot" * 1000
    await send(await presign_put(served_store, "media/farm-a/snap.jpg", data), data)

    info = await served_store.store.stat("media/farm-a/snap.jpg")

    assert info is not None
    assert info.size == len(data)
    assert info.sha256 in (None, hashlib.sha256(data).hexdigest())


async def test_a_second_upload_replaces_the_object(served_store: ServedStore) -> None:
    first, second = b"a" * 100, b"b" * 300
    await send(await presign_put(served_store, "media/farm-a/x.mp4", first), first)
    await send(await presign_put(served_store, "media/farm-a/x.mp4", second), second)

    info = await served_store.store.stat("media/farm-a/x.mp4")

    assert info is not None
    assert info.size == len(second)


async def test_missing_object_has_no_stat_and_delete_is_idempotent(
    served_store: ServedStore,
) -> None:
    data = b"clip"
    await send(await presign_put(served_store, "media/farm-a/gone.mp4", data), data)

    await served_store.store.delete("media/farm-a/gone.mp4")
    await served_store.store.delete("media/farm-a/gone.mp4")

    assert await served_store.store.stat("media/farm-a/gone.mp4") is None
    assert await served_store.store.stat("media/farm-a/never.mp4") is None


async def test_urls_expire_when_asked(served_store: ServedStore) -> None:
    before = datetime.now(UTC)

    put = await presign_put(served_store, "media/farm-a/t.mp4", b"x")

    assert before + MINUTE - timedelta(seconds=5) <= put.expires_at
    assert put.expires_at <= datetime.now(UTC) + MINUTE + timedelta(seconds=5)


async def test_object_over_the_limit_gets_no_upload_url(served_store: ServedStore) -> None:
    with pytest.raises(ObjectTooLargeError):
        await served_store.store.presign_upload(
            "media/farm-a/big.mp4",
            size=MAX_OBJECT_BYTES + 1,
            sha256="0" * 64,
            content_type="video/mp4",
            expires_in=MINUTE,
            base_url=served_store.base_url,
        )


@pytest.mark.parametrize(
    "key", ["../escape", "media/../../etc/passwd", "/absolute", "media//double", ".hidden", ""]
)
async def test_unsafe_keys_are_refused(served_store: ServedStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        await served_store.store.stat(key)


def test_media_key_is_derived_from_the_id_with_the_usual_extension() -> None:
    media_id = UUID("01890000-0000-7000-8000-000000000001")

    assert media_key("farm-a", media_id, "video/mp4") == f"media/farm-a/{media_id}.mp4"
    assert media_key("farm-a", media_id, "image/jpeg") == f"media/farm-a/{media_id}.jpg"
