"""The media API on a running appliance: an incident's media list and files with ranges."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import aiohttp
import pytest

from appliance import keys
from appliance.media.store import MediaStore
from contracts import EventType, MediaKind, new_id
from tests.appliance.media.conftest import farm_event, synthetic_clip
from tests.conftest import API_TOKEN, MakeAppliance, RunningAppliance, eventually

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


@dataclass
class Served:
    appliance: RunningAppliance
    incident_id: UUID
    clip_id: UUID
    clip: bytes
    recording_id: UUID


async def open_incident(appliance: RunningAppliance) -> UUID:
    await appliance.app[keys.EVENTS].record(
        EventType.FARM_EVENT, farm_event(), correlation_id="cam1:escape:pen:1"
    )
    engine = appliance.app[keys.INCIDENTS]

    async def opened() -> bool:
        return bool(await engine.list_incidents())

    await eventually(opened)
    return (await engine.list_incidents())[0].incident_id


async def add_clip(store: MediaStore, incident_id: UUID, path: Path) -> UUID:
    media_id = new_id()
    await store.begin(media_id, incident_id, "cam1", MediaKind.CLIP, "video/mp4", path, START)
    data = await asyncio.to_thread(lambda: synthetic_clip(path).read_bytes())
    await store.complete(
        media_id,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        started_at=START,
        ended_at=START,
        correlation_id="cam1:escape:pen:1",
    )
    return media_id


@pytest.fixture
async def served(make_appliance: MakeAppliance, tmp_path: Path) -> Served:
    appliance = await make_appliance()
    store = appliance.app[keys.MEDIA].store
    incident_id = await open_incident(appliance)
    media_dir = appliance.settings.data_dir / "media" / "2026-11-30"
    clip_id = await add_clip(store, incident_id, media_dir / "clip.mp4")
    recording_id = new_id()
    await store.begin(
        recording_id, incident_id, "cam1", MediaKind.CLIP, "video/mp4", media_dir / "r.mp4", START
    )
    return Served(
        appliance, incident_id, clip_id, (media_dir / "clip.mp4").read_bytes(), recording_id
    )


async def test_incident_media_lists_files_with_their_urls(served: Served) -> None:
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(f"{served.appliance.url}/api/v1/incidents/{served.incident_id}/media") as resp,
    ):
        assert resp.status == 200
        body = await resp.json()
    items = {item["media_id"]: item for item in body["items"]}
    clip = items[str(served.clip_id)]
    assert clip == {
        "media_id": str(served.clip_id),
        "kind": "clip",
        "content_type": "video/mp4",
        "state": "ready",
        "started_at": START.isoformat(),
        "ended_at": START.isoformat(),
        "size_bytes": len(served.clip),
        "error": None,
        "url": f"/api/v1/media/{served.clip_id}",
    }
    assert items[str(served.recording_id)]["state"] == "recording"


async def test_a_failed_file_is_listed_with_its_reason(served: Served) -> None:
    await served.appliance.app[keys.MEDIA].store.fail(served.recording_id, "encoder broke")
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(f"{served.appliance.url}/api/v1/incidents/{served.incident_id}/media") as resp,
    ):
        body = await resp.json()
    (failed,) = [i for i in body["items"] if i["media_id"] == str(served.recording_id)]
    assert (failed["state"], failed["error"]) == ("failed", "encoder broke")


async def test_whole_file_is_served_with_its_type(served: Served) -> None:
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(f"{served.appliance.url}/api/v1/media/{served.clip_id}") as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "video/mp4"
        assert resp.headers["Accept-Ranges"] == "bytes"
        assert await resp.read() == served.clip


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        pytest.param("bytes=0-99", 0, 99, id="head"),
        pytest.param("bytes=100-355", 100, 355, id="middle"),
        pytest.param("bytes=-64", -64, -1, id="suffix"),
    ],
)
async def test_range_requests_get_partial_content(
    served: Served, header: str, first: int, last: int
) -> None:
    size = len(served.clip)
    start, end = first % size, last % size
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(
            f"{served.appliance.url}/api/v1/media/{served.clip_id}", headers={"Range": header}
        ) as resp,
    ):
        assert resp.status == 206
        assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert await resp.read() == served.clip[start : end + 1]


async def test_a_range_past_the_end_is_refused(served: Served) -> None:
    size = len(served.clip)
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(
            f"{served.appliance.url}/api/v1/media/{served.clip_id}",
            headers={"Range": f"bytes={size + 10}-{size + 20}"},
        ) as resp,
    ):
        assert resp.status == 416


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/api/v1/media/{unknown}", 404, id="unknown-media"),
        pytest.param("/api/v1/media/{recording}", 409, id="still-recording"),
        pytest.param("/api/v1/media/not-a-uuid", 400, id="bad-media-id"),
        pytest.param("/api/v1/incidents/{unknown}/media", 404, id="unknown-incident"),
        pytest.param("/api/v1/incidents/not-a-uuid/media", 400, id="bad-incident-id"),
    ],
)
async def test_bad_requests_get_clear_errors(served: Served, path: str, status: int) -> None:
    url = served.appliance.url + path.format(unknown=new_id(), recording=served.recording_id)
    async with aiohttp.ClientSession(headers=AUTH) as http, http.get(url) as resp:
        assert resp.status == status
        assert (await resp.json())["error"]


async def test_evicted_media_is_gone(served: Served) -> None:
    store = served.appliance.app[keys.MEDIA].store
    await served.appliance.app[keys.INCIDENTS].resolve(served.incident_id, "farmer", None)
    assert await store.mark_evicted(served.clip_id)
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(f"{served.appliance.url}/api/v1/media/{served.clip_id}") as resp,
    ):
        assert resp.status == 404


async def test_media_needs_a_token(served: Served) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{served.appliance.url}/api/v1/media/{served.clip_id}") as resp,
    ):
        assert resp.status == 401
