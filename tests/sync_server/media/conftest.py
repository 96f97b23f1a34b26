"""Fixtures of the media tests: a real S3 API (moto_server) and the local store behind HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from sync_server.api.media import objects_router
from sync_server.media.local import LocalObjectStore
from sync_server.media.s3 import S3ObjectStore
from sync_server.media.service import MediaService
from sync_server.media.settings import LocalStoreSettings, MediaSettings, S3StoreSettings
from sync_server.media.store import ObjectStore
from tests.conftest import free_port

MAX_OBJECT_BYTES = 1024 * 1024
URL_SECRET = "test-url-secret"


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str

    def settings(self, bucket: str) -> S3StoreSettings:
        return S3StoreSettings(
            endpoint_url=self.endpoint_url,
            bucket=bucket,
            access_key_id="test-key",  # type: ignore[arg-type]
            secret_access_key="test-secret",  # type: ignore[arg-type]
            addressing_style="path",
            create_bucket=True,
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with run_moto_server() as moto:
        yield moto


@contextlib.contextmanager
def run_moto_server() -> Iterator[MotoServer]:
    """`moto_server` on a free loopback port (an S3 API; it checks no signature or expiry)."""
    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            assert process.poll() is None, "moto_server exited"
            assert time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.1)
        yield MotoServer(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(10)


_bucket_counter = iter(range(1_000_000))


def new_bucket() -> str:
    return f"byre-test-{next(_bucket_counter)}-{int(time.time() * 1000) % 100000}"


def s3_media_settings(moto: MotoServer) -> MediaSettings:
    return MediaSettings(
        backend="s3", s3=moto.settings(new_bucket()), max_object_bytes=MAX_OBJECT_BYTES
    )


def local_media_settings(directory: Path) -> MediaSettings:
    return MediaSettings(
        backend="local",
        local=LocalStoreSettings(directory=directory, url_secret=URL_SECRET),  # type: ignore[arg-type]
        max_object_bytes=MAX_OBJECT_BYTES,
    )


@pytest.fixture(params=["local", "s3"])
def media_settings(
    request: pytest.FixtureRequest, tmp_path: Path, moto_server: MotoServer
) -> MediaSettings:
    """Central's media settings for each object store: local directory and S3 (moto)."""
    if request.param == "local":
        return local_media_settings(tmp_path / "objects")
    return s3_media_settings(moto_server)


@dataclass(frozen=True)
class ServedStore:
    """An object store and the base URL its signed local URLs point at."""

    store: ObjectStore
    base_url: str


@contextlib.asynccontextmanager
async def serve_objects(store: ObjectStore, settings: MediaSettings) -> AsyncIterator[str]:
    """The local store's object routes on a real HTTP server (the part of central it needs)."""
    app = FastAPI()
    app.include_router(objects_router)
    app.state.media = MediaService(store, settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "object server did not start"
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture(params=["local", "s3"])
async def served_store(
    request: pytest.FixtureRequest, tmp_path: Path, moto_server: MotoServer
) -> AsyncIterator[ServedStore]:
    """Each object store implementation, reachable over real HTTP."""
    store: ObjectStore
    if request.param == "local":
        settings = local_media_settings(tmp_path / "objects")
        store = LocalObjectStore(
            tmp_path / "objects", secret=URL_SECRET.encode(), max_object_bytes=MAX_OBJECT_BYTES
        )
    else:
        settings = s3_media_settings(moto_server)
        store = S3ObjectStore(settings.s3, max_object_bytes=MAX_OBJECT_BYTES)
    await store.start()
    try:
        async with serve_objects(store, settings) as base_url:
            yield ServedStore(store, base_url)
    finally:
        await store.close()
