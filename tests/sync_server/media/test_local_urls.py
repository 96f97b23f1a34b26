"""The local store's signed URLs over real HTTP: expired or tampered URLs are refused (403)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sync_server.media.local import LocalObjectStore
from tests.sync_server.media.conftest import (
    MAX_OBJECT_BYTES,
    URL_SECRET,
    ServedStore,
    local_media_settings,
    serve_objects,
)

KEY = "media/farm-a/clip.mp4"
DATA = b"original clip bytes" * 100
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[ServedStore]:
    store = LocalObjectStore(
        tmp_path / "objects", secret=URL_SECRET.encode(), max_object_bytes=MAX_OBJECT_BYTES
    )
    async with serve_objects(store, local_media_settings(tmp_path / "objects")) as base_url:
        served = ServedStore(store, base_url)
        put = await put_url(served, DATA)
        async with httpx.AsyncClient() as client:
            stored = await client.put(put, content=DATA)
        assert stored.status_code == 200, stored.text
        yield served


async def put_url(served: ServedStore, data: bytes, expires_in: timedelta = MINUTE) -> str:
    request = await served.store.presign_upload(
        KEY,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="video/mp4",
        expires_in=expires_in,
        base_url=served.base_url,
    )
    return request.url


async def get_url(served: ServedStore, expires_in: timedelta = MINUTE, key: str = KEY) -> str:
    request = await served.store.presign_download(
        key, expires_in=expires_in, base_url=served.base_url
    )
    return request.url


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def with_path(url: str, path: str) -> str:
    return urlsplit(url)._replace(path=path).geturl()


async def stored_bytes(served: ServedStore) -> bytes:
    async with httpx.AsyncClient() as client:
        reply = await client.get(await get_url(served))
    assert reply.status_code == 200, reply.text
    return reply.content


async def test_valid_download_url_returns_the_object_with_its_type(local: ServedStore) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.get(await get_url(local))

    assert (reply.status_code, reply.content) == (200, DATA)
    assert reply.headers["content-type"] == "video/mp4"


async def test_expired_download_url_is_refused(local: ServedStore) -> None:
    url = await get_url(local, expires_in=timedelta(seconds=-1))

    async with httpx.AsyncClient() as client:
        reply = await client.get(url)

    assert reply.status_code == 403
    assert "expired" in reply.json()["detail"]


async def test_expired_upload_url_is_refused_and_the_object_is_unchanged(
    local: ServedStore,
) -> None:
    url = await put_url(local, b"other", expires_in=timedelta(seconds=-1))

    async with httpx.AsyncClient() as client:
        reply = await client.put(url, content=b"other")

    assert reply.status_code == 403
    assert "expired" in reply.json()["detail"]
    assert await stored_bytes(local) == DATA


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"expires": "99999999999"}, "signature", id="later-expiry"),
        pytest.param({"method": "PUT"}, "signature", id="method-upgraded"),
        pytest.param({"sig": "0" * 64}, "signature", id="forged-signature"),
        pytest.param({"sig": ""}, "not signed", id="no-signature"),
        pytest.param({"expires": "soon"}, "Unix time", id="expiry-not-a-number"),
    ],
)
async def test_tampered_download_url_is_refused(
    local: ServedStore, change: dict[str, str], reason: str
) -> None:
    url = with_query(await get_url(local), **change)

    async with httpx.AsyncClient() as client:
        reply = await client.get(url)

    assert reply.status_code == 403
    assert reason in reply.json()["detail"]


async def test_url_for_one_key_does_not_open_another(local: ServedStore) -> None:
    async with httpx.AsyncClient() as client:
        stored = await client.put(
            with_path(await put_url(local, DATA), "/objects/media/farm-b/clip.mp4"),
            content=b"overwrite",
        )
        read = await client.get(with_path(await get_url(local), "/objects/media/farm-b/x.mp4"))

    assert (stored.status_code, read.status_code) == (403, 403)
    assert "signature" in stored.json()["detail"]
    assert await local.store.stat("media/farm-b/clip.mp4") is None


async def test_download_url_cannot_upload_and_upload_url_cannot_download(
    local: ServedStore,
) -> None:
    async with httpx.AsyncClient() as client:
        put_with_get_url = await client.put(await get_url(local), content=b"overwrite")
        get_with_put_url = await client.get(await put_url(local, DATA))

    assert put_with_get_url.status_code == 403
    assert "allows GET, not PUT" in put_with_get_url.json()["detail"]
    assert get_with_put_url.status_code == 403
    assert "allows PUT, not GET" in get_with_put_url.json()["detail"]
    assert await stored_bytes(local) == DATA


async def test_url_signed_with_another_secret_is_refused(
    local: ServedStore, tmp_path: Path
) -> None:
    other = LocalObjectStore(tmp_path / "x", secret=b"another secret", max_object_bytes=10)
    url = (await other.presign_download(KEY, expires_in=MINUTE, base_url=local.base_url)).url

    async with httpx.AsyncClient() as client:
        reply = await client.get(url)

    assert reply.status_code == 403


async def test_upload_over_the_size_limit_is_refused_and_nothing_changes(
    local: ServedStore,
) -> None:
    big = b"x" * (MAX_OBJECT_BYTES + 1)
    url = await put_url(local, DATA)

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds anyway
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    async with httpx.AsyncClient() as client:
        declared = await client.put(url, content=big)
        chunked = await client.put(url, content=stream())

    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert await stored_bytes(local) == DATA
    assert isinstance(local.store, LocalObjectStore)
    assert list(local.store.path(KEY).parent.iterdir()) == [local.store.path(KEY)]


async def test_valid_url_of_a_missing_object_gives_404(local: ServedStore) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.get(await get_url(local, key="media/farm-a/none.mp4"))

    assert reply.status_code == 404
