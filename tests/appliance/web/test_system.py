"""The system page's API over real HTTP: components, sync backlog, disk, detector plugins."""

from __future__ import annotations

from pathlib import Path

import httpx

from appliance import keys
from appliance.scenes.truth import SceneTruth
from tests.appliance.web.conftest import AUTH, CAMERA, MakeCameraAppliance, camera_vision
from tests.conftest import MakeAppliance, eventually


def by_name(body: dict[str, object]) -> dict[str, dict[str, str]]:
    components = body["components"]
    assert isinstance(components, list)
    return {c["name"]: c for c in components}


async def test_system_reports_store_broker_sync_and_disk(make_appliance: MakeAppliance) -> None:
    appliance = await make_appliance()
    await appliance.app[keys.MQTT].ready.wait()
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        recorded = await client.post(
            "/api/v1/events",
            json={
                "correlation_id": "cam-1:intruder:gate",
                "event": {"kind": "intruder", "severity": "critical", "summary": "person"},
            },
        )
        reply = await client.get("/api/v1/system")

    body = reply.json()
    components = by_name(body)
    assert recorded.status_code == 201
    assert reply.status_code == 200
    assert components["store"]["status"] == "ok"
    assert components["mqtt broker"]["status"] == "ok"
    assert components["sync agent"] == {
        "name": "sync agent",
        "status": "ok",
        "detail": "not enrolled: events are kept on the appliance",
    }
    assert body["sync"]["enrolled"] is False
    assert body["sync"]["backlog"] >= 1  # the event and the incident it opened
    assert body["sync"]["parked"] == 0
    disk = body["disk"]
    assert disk["data_dir"] == str(appliance.settings.data_dir)
    assert disk["total_bytes"] >= disk["free_bytes"] > 0
    assert disk["used_by_byre_bytes"] > 0  # the database at least
    assert body["plugins"] == []
    assert body["version"] == "0.1.0"


async def test_system_reports_the_detector_plugin_and_each_camera(
    make_camera_appliance: MakeCameraAppliance,
) -> None:
    appliance = await make_camera_appliance()
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:

        async def camera_ok() -> bool:
            reply = await client.get("/api/v1/system")
            return by_name(reply.json())[f"camera {CAMERA}"]["status"] == "ok"

        await eventually(camera_ok)
        body = (await client.get("/api/v1/system")).json()

    components = by_name(body)
    assert components["detector coco"]["status"] == "ok"
    assert components[f"camera {CAMERA}"]["detail"] == "running"
    (plugin,) = body["plugins"]
    assert plugin == {
        "name": "coco",
        "status": "ready",
        "model": "coco-ssd-mobilenet-v2-onnx 1.0.0",
        "runtime": "onnxruntime",
        "detail": "ready",
    }


async def test_system_needs_a_signed_in_user(make_appliance: MakeAppliance) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        reply = await client.get("/api/v1/system")

    assert reply.status_code == 401


async def test_system_shows_a_detector_that_keeps_crashing_as_quarantined(
    make_appliance: MakeAppliance, escape_scene: tuple[Path, SceneTruth]
) -> None:
    video, truth = escape_scene
    vision = camera_vision(video, truth)
    vision["runner"] = {
        "extra_modules": ["tests.appliance.inference.test_plugins"],
        "quarantine_crashes": 2,
        "restart_backoff_min_s": 0.1,
        "restart_backoff_max_s": 0.2,
        "plugins": [{"name": "crashy", "config": {"type": "abort", "trigger": "always"}}],
    }
    vision["cameras"][0]["detector"] = "crashy"
    appliance = await make_appliance(vision=vision)
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:

        async def quarantined() -> bool:
            reply = await client.get("/api/v1/system")
            return bool(reply.json()["plugins"][0]["status"] == "quarantined")

        await eventually(quarantined, 30.0)
        body = (await client.get("/api/v1/system")).json()

    (plugin,) = body["plugins"]
    assert plugin["model"] == "abort"
    assert plugin["runtime"] is None
    assert "crashed 2 times" in plugin["detail"]
    assert by_name(body)["detector crashy"]["status"] == "down"
