"""Cameras over real HTTP with the real detector on a composed scene: list, snapshots, live
MJPEG, and zones read, replaced (applied to the running pipeline at once) and kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from aiohttp import web

from appliance.app import create_app
from appliance.scenes.truth import SceneTruth
from tests.appliance.pipeline.conftest import zones_of
from tests.appliance.web.conftest import (
    AUTH,
    CAMERA,
    CHEAP_AUTH,
    MakeCameraAppliance,
    camera_vision,
    pipeline_of,
    sign_in_farmer,
)
from tests.conftest import MakeAppliance, eventually, make_appliance_settings

WHOLE_VIEW = {"name": "whole view", "kind": "pasture", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}


def decode_jpeg(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


async def test_camera_is_listed_running_with_its_zones_and_detector(
    make_camera_appliance: MakeCameraAppliance, escape_scene: tuple[Path, SceneTruth]
) -> None:
    _, truth = escape_scene
    appliance = await make_camera_appliance()
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:

        async def measured() -> bool:
            reply = await client.get("/api/v1/cameras")
            return bool(reply.json()["items"][0]["fps"])

        await eventually(measured, 10.0)
        (camera,) = (await client.get("/api/v1/cameras")).json()["items"]

    assert camera["camera_id"] == CAMERA
    assert camera["state"] == "running"
    assert camera["health"] == []
    assert camera["inferred"] > 0
    assert camera["fps"] > 0
    assert (camera["width"], camera["height"]) == (truth.width, truth.height)
    assert camera["detector"] == "coco"
    expected = zones_of(truth).model_dump(mode="json")["zones"]
    assert camera["zones"] == expected
    assert all(0 <= x <= 1 and 0 <= y <= 1 for z in camera["zones"] for x, y in z["points"])


async def test_snapshot_is_the_latest_frame_and_the_overlay_draws_on_it(
    make_camera_appliance: MakeCameraAppliance, escape_scene: tuple[Path, SceneTruth]
) -> None:
    _, truth = escape_scene
    appliance = await make_camera_appliance()
    pipeline = pipeline_of(appliance)

    async def tracked() -> bool:
        return pipeline.live is not None and bool(pipeline.live.tracks)

    await eventually(tracked, 20.0)
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        plain = await client.get(f"/api/v1/cameras/{CAMERA}/snapshot.jpg")
        drawn = await client.get(f"/api/v1/cameras/{CAMERA}/snapshot.jpg?overlay=1")
        bad = await client.get(f"/api/v1/cameras/{CAMERA}/snapshot.jpg?overlay=yes")
        unknown = await client.get("/api/v1/cameras/nope/snapshot.jpg")

    assert plain.status_code == drawn.status_code == 200
    assert plain.headers["Content-Type"] == "image/jpeg"
    plain_image, drawn_image = decode_jpeg(plain.content), decode_jpeg(drawn.content)
    assert plain_image.shape == drawn_image.shape == (truth.height, truth.width, 3)
    # the overlay's yellow boxes: far more pure-yellow pixels than the scene has
    yellow = np.array([0, 230, 255])

    def yellow_pixels(image: np.ndarray[Any, np.dtype[np.uint8]]) -> int:
        return int(np.count_nonzero(np.abs(image.astype(int) - yellow).sum(axis=2) < 60))

    assert yellow_pixels(drawn_image) > yellow_pixels(plain_image) + 200
    assert bad.status_code == 400
    assert bad.json()["field"] == "overlay"
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]


async def test_camera_without_a_frame_answers_503_and_shows_offline(
    make_appliance: MakeAppliance, escape_scene: tuple[Path, SceneTruth]
) -> None:
    video, truth = escape_scene
    vision = camera_vision(video, truth)
    vision["cameras"][0]["source"] |= {
        "url": str(video.with_name("missing.mp4")),
        "health": {"offline_after_s": 0.5, "clear_after_s": 0.5},
    }
    appliance = await make_appliance(vision=vision)
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        snapshot = await client.get(f"/api/v1/cameras/{CAMERA}/snapshot.jpg")

        async def offline() -> bool:
            reply = await client.get("/api/v1/cameras")
            return bool(reply.json()["items"][0]["state"] == "offline")

        await eventually(offline, 15.0)
        (camera,) = (await client.get("/api/v1/cameras")).json()["items"]

    assert snapshot.status_code == 503
    assert "no frame" in snapshot.json()["error"]
    assert camera["health"] == ["offline"]
    assert camera["width"] is None


async def jpeg_parts(response: httpx.Response) -> AsyncIterator[bytes]:
    """The JPEG parts of a multipart/x-mixed-replace stream, as they arrive."""
    buffer = b""
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while (head_end := buffer.find(b"\r\n\r\n")) >= 0:
            head = buffer[:head_end].decode()
            assert head.startswith("--frame\r\nContent-Type: image/jpeg\r\n"), head
            end = head_end + 4 + int(head.rsplit("Content-Length: ", 1)[1])
            if len(buffer) < end + 2:
                break
            yield buffer[head_end + 4 : end]
            buffer = buffer[end + 2 :]


async def test_live_view_streams_jpegs_at_most_five_a_second_and_survives_a_viewer_leaving(
    make_camera_appliance: MakeCameraAppliance,
) -> None:
    appliance = await make_camera_appliance()
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH, timeout=20) as client:
        loop = asyncio.get_running_loop()
        async with client.stream("GET", f"/api/v1/cameras/{CAMERA}/live") as response:
            assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
            stream = jpeg_parts(response)
            first = await anext(stream)
            started = loop.time()
            parts = [await anext(stream) for _ in range(5)]
            elapsed = loop.time() - started
        # the viewer left mid-stream; the appliance goes on serving
        after = await client.get("/api/v1/cameras")
        unknown = await client.get("/api/v1/cameras/nope/live")

    assert all(decode_jpeg(p).ndim == 3 for p in [first, *parts])
    assert elapsed >= 5 * 0.2 * 0.8  # 5 parts at no more than 5 a second
    assert after.status_code == 200
    assert unknown.status_code == 404


async def test_live_view_ends_when_the_appliance_stops(
    tmp_path: Path, escape_scene: tuple[Path, SceneTruth]
) -> None:
    video, truth = escape_scene
    settings = make_appliance_settings(tmp_path / "stopping", vision=camera_vision(video, truth))
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.http.port).start()
    url = f"http://127.0.0.1:{settings.http.port}"
    try:
        async with (
            httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60) as client,
            client.stream("GET", f"/api/v1/cameras/{CAMERA}/live") as response,
        ):
            stream = jpeg_parts(response)
            await anext(stream)
            stopping = asyncio.create_task(runner.cleanup())
            async with asyncio.timeout(30):
                async for _ in stream:
                    pass  # drains until the appliance ends the stream
            async with asyncio.timeout(30):
                await stopping
    finally:
        await runner.cleanup()


async def test_zones_are_normalised_and_a_replacement_is_applied_to_the_pipeline_at_once(
    make_camera_appliance: MakeCameraAppliance, escape_scene: tuple[Path, SceneTruth]
) -> None:
    _, truth = escape_scene
    appliance = await make_camera_appliance()
    pipeline = pipeline_of(appliance)
    before = pipeline.zones
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        shown = await client.get(f"/api/v1/cameras/{CAMERA}/zones")
        stored = await client.put(f"/api/v1/cameras/{CAMERA}/zones", json={"zones": [WHOLE_VIEW]})

        async def cows_in_the_new_zone() -> bool:
            counts = pipeline.zones.counts()
            return counts.get("whole view", {}).get("cow", 0) >= 1

        await eventually(cows_in_the_new_zone, 20.0)
        listed = await client.get("/api/v1/cameras")

    assert shown.json() == {"zones": zones_of(truth).model_dump(mode="json")["zones"]}
    assert stored.status_code == 200
    assert stored.json() == {"zones": [WHOLE_VIEW]}
    assert pipeline.zones is not before
    assert [z.name for z in pipeline.zones.settings.zones] == ["whole view"]
    assert listed.json()["items"][0]["zones"] == [WHOLE_VIEW]


async def test_stored_zones_replace_the_settings_files_after_a_restart(
    make_camera_appliance: MakeCameraAppliance, tmp_path: Path
) -> None:
    data_dir = tmp_path / "kept"
    first = await make_camera_appliance(data_dir)
    async with httpx.AsyncClient(base_url=first.url, headers=AUTH) as client:
        stored = await client.put(f"/api/v1/cameras/{CAMERA}/zones", json={"zones": [WHOLE_VIEW]})
    assert stored.status_code == 200
    await first.runner.cleanup()

    second = await make_camera_appliance(data_dir)
    async with httpx.AsyncClient(base_url=second.url, headers=AUTH) as client:
        shown = await client.get(f"/api/v1/cameras/{CAMERA}/zones")

    assert shown.json() == {"zones": [WHOLE_VIEW]}
    assert [z.name for z in pipeline_of(second).zones.settings.zones] == ["whole view"]


TRIANGLE = [[0.1, 0.1], [0.5, 0.1], [0.3, 0.5]]


@pytest.mark.parametrize(
    ("zones", "field"),
    [
        ([{"name": "a", "kind": "paddock", "points": TRIANGLE}], "zones.0.kind"),
        ([{"name": "a", "kind": "pen", "points": TRIANGLE[:2]}], "zones.0"),
        ([{"name": "a", "kind": "pen", "points": [[0.1, 0.1], [1.2, 0.1], [0.3, 0.5]]}], "zones.0"),
        (
            [{"name": "bow tie", "kind": "pen", "points": [[0, 0], [1, 1], [1, 0], [0, 1]]}],
            "zones.0",
        ),
        ([{"name": "", "kind": "pen", "points": TRIANGLE}], "zones.0.name"),
        (
            [
                {"name": "a", "kind": "pen", "points": TRIANGLE},
                {"name": "a", "kind": "gate", "points": TRIANGLE},
            ],
            "zones",
        ),
        ([{"name": "a", "kind": "pen", "points": TRIANGLE, "colour": "red"}], "zones.0.colour"),
        ("not a list", "zones"),
    ],
)
async def test_bad_zones_are_refused_naming_the_field_and_change_nothing(
    make_camera_appliance: MakeCameraAppliance, zones: Any, field: str
) -> None:
    appliance = await make_camera_appliance(inferring=False)
    pipeline = pipeline_of(appliance)
    before = pipeline.zones
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        shown = await client.get(f"/api/v1/cameras/{CAMERA}/zones")
        reply = await client.put(f"/api/v1/cameras/{CAMERA}/zones", json={"zones": zones})
        after = await client.get(f"/api/v1/cameras/{CAMERA}/zones")

    assert reply.status_code == 400
    assert reply.json()["field"] == field
    assert after.json() == shown.json()
    assert pipeline.zones is before


async def test_zones_put_needs_the_technician_role(
    make_camera_appliance: MakeCameraAppliance,
) -> None:
    appliance = await make_camera_appliance(inferring=False, auth=CHEAP_AUTH)
    async with (
        httpx.AsyncClient(base_url=appliance.url) as farmer,
        httpx.AsyncClient(base_url=appliance.url) as anonymous,
    ):
        await sign_in_farmer(appliance, farmer)
        seen = await farmer.get(f"/api/v1/cameras/{CAMERA}/zones")
        refused = await farmer.put(f"/api/v1/cameras/{CAMERA}/zones", json={"zones": [WHOLE_VIEW]})
        unsigned = await anonymous.get(f"/api/v1/cameras/{CAMERA}/zones")
        after = await farmer.get(f"/api/v1/cameras/{CAMERA}/zones")

    assert seen.status_code == 200
    assert refused.status_code == 403
    assert unsigned.status_code == 401
    assert after.json() == seen.json()


async def test_a_zone_counted_by_a_headcount_rule_cannot_be_removed(
    make_camera_appliance: MakeCameraAppliance,
) -> None:
    headcount = {"type": "headcount", "expected": {"pen": 3}}
    appliance = await make_camera_appliance(inferring=False, analyzers=[headcount])
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        shown = await client.get(f"/api/v1/cameras/{CAMERA}/zones")
        reply = await client.put(f"/api/v1/cameras/{CAMERA}/zones", json={"zones": [WHOLE_VIEW]})
        after = await client.get(f"/api/v1/cameras/{CAMERA}/zones")

    assert reply.status_code == 400
    assert reply.json() == {
        "error": "zone 'pen' is counted by the headcount rule; keep it",
        "field": "zones",
    }
    assert after.json() == shown.json()
