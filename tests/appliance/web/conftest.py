"""Fixtures of the UI API tests: an appliance with a camera on a composed scene and the
shipped detector, signed-in clients of both roles, and a webhook gateway on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.context import PIPELINES
from appliance.scenes.truth import SceneTruth
from tests.appliance.pipeline.conftest import (  # noqa: F401 (a fixture used here)
    escape_scene,
    zones_of,
)
from tests.conftest import API_TOKEN, MakeAppliance, RunningAppliance, eventually, free_port

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
CAMERA = "cam-escape"
FARMER_PASSWORD = "farmer-password-1"
# the shipped SSD as ONNX (scripts/build-models): ONNX Runtime loads it in seconds
SSD_ONNX = Path(__file__).resolve().parents[3] / "build" / "models" / "coco-ssd-mobilenet-v2-onnx"


def camera_vision(video: Path, truth: SceneTruth) -> dict[str, Any]:
    """Vision settings: one camera playing the composed scene through the shipped detector."""
    return {
        "runner": {
            "load_timeout_s": 90.0,
            "plugins": [{"name": "coco", "config": {"type": "model", "bundle": str(SSD_ONNX)}}],
        },
        "processing": {"tracker": {"min_hits": 2}},
        "cameras": [
            {
                "source": {"id": CAMERA, "url": str(video)},
                "zones": zones_of(truth).model_dump(mode="json"),
            }
        ],
    }


def pipeline_of(appliance: RunningAppliance) -> CameraPipeline:
    return appliance.app[PIPELINES][CAMERA]


MakeCameraAppliance = Callable[..., Awaitable[RunningAppliance]]


@pytest.fixture
async def make_camera_appliance(
    make_appliance: MakeAppliance,
    escape_scene: tuple[Path, SceneTruth],  # noqa: F811
) -> MakeCameraAppliance:
    """Start an appliance with the scene camera; returns once the detector has seen frames
    (or at once with `inferring=False`)."""
    video, truth = escape_scene

    async def make(
        data_dir: Path | None = None,
        *,
        inferring: bool = True,
        analyzers: list[dict[str, Any]] | None = None,
        **overrides: Any,
    ) -> RunningAppliance:
        vision = camera_vision(video, truth)
        if analyzers is not None:
            vision["cameras"][0]["analyzers"] = analyzers
        appliance = await make_appliance(data_dir, vision=vision, **overrides)
        pipeline = pipeline_of(appliance)

        async def looked_at() -> bool:
            return pipeline.counters.inferred > 0

        if inferring:
            await eventually(looked_at, 90.0)
        return appliance

    return make


CHEAP_AUTH = {"password_time_cost": 1, "password_memory_kib": 8192, "password_parallelism": 1}


async def sign_in_farmer(appliance: RunningAppliance, client: httpx.AsyncClient) -> None:
    """Create a farmer and sign `client` in as them (cookie session, CSRF header set)."""
    created = await client.post(
        "/api/v1/users",
        json={"username": "farmer", "password": FARMER_PASSWORD, "role": "farmer"},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    login = await client.post(
        "/api/v1/auth/login", json={"username": "farmer", "password": FARMER_PASSWORD}
    )
    assert login.status_code == 200, login.text
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]


@dataclass
class Gateway:
    """A LAN webhook gateway on loopback that records what it receives."""

    url: str = ""
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    found = Gateway()

    async def receive(request: web.Request) -> web.Response:
        found.calls.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    await runner.cleanup()
