"""The farmer's UI on an appliance with a camera (a composed escape scene through the shipped
detector): a new incident reaches the feed within 2 s of the frame that showed it, its clip
plays, it is acknowledged; a zone drawn with clicks is applied to the pipeline; every page is
captured at phone and desktop size. The pages ask nothing of any host but the appliance.

One appliance (and one Chromium) serves the whole module: the detector loads once. The camera
file is put in place only once the feed is open, so the escape happens while a farmer watches.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser

from appliance import keys
from appliance.app import create_app
from appliance.media.settings import MediaSettings
from appliance.pipeline.context import PIPELINES
from appliance.scenes.truth import SceneTruth
from contracts import EventType
from tests.appliance.pipeline.conftest import (  # noqa: F401 (a fixture used here)
    escape_scene,
    zones_of,
)
from tests.conftest import RunningAppliance, make_appliance_settings
from tests.web_ui.conftest import (
    ARTIFACTS,
    AUTH,
    DESKTOP,
    PHONE,
    QUICK_PUSH,
    USERNAME,
    Ui,
    create_first_user,
    open_ui,
    poll,
)

# the first test to run also starts the appliance, loads the detector and waits for the escape
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

CAMERA = "pasture-north"
FEED_LATENCY_S = 2.0  # the acceptance: in the feed within 2 s of the scripted event


@dataclass
class CameraFarm:
    appliance: RunningAppliance
    browser: Browser
    video: Path
    camera_file: Path

    @property
    def url(self) -> str:
        return self.appliance.url

    async def start_camera(self) -> None:
        """Put the scene where the camera looks (atomically); the source opens it at once."""
        if self.camera_file.exists():
            return
        staged = self.camera_file.with_suffix(".part")
        await asyncio.to_thread(shutil.copyfile, self.video, staged)
        os.replace(staged, self.camera_file)

    async def get(self, path: str) -> Any:
        async with httpx.AsyncClient(base_url=self.url, headers=AUTH, timeout=30) as client:
            reply = await client.get(path)
            assert reply.status_code == 200, reply.text
            return reply.json()


def camera_vision(camera_file: Path, truth: SceneTruth, model_cache: Path) -> dict[str, Any]:
    return {
        "runner": {
            "load_timeout_s": 90.0,
            # the shipped detector, compiled once per test run (tests/model_cache.py)
            "plugins": [
                {"name": "coco", "config": {"type": "model", "cache_dir": str(model_cache)}}
            ],
        },
        "processing": {"tracker": {"min_hits": 2}},
        "cameras": [
            {
                "source": {
                    "id": CAMERA,
                    "url": str(camera_file),
                    # the file appears during the test: retry fast, and no "offline" alarm
                    "reconnect": {"initial_s": 0.1, "max_s": 0.3, "jitter": 0.0},
                    "health": {"offline_after_s": 600.0},
                },
                "zones": zones_of(truth).model_dump(mode="json"),
            }
        ],
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def farm(
    tmp_path_factory: pytest.TempPathFactory,
    escape_scene: tuple[Path, SceneTruth],  # noqa: F811
    browser: Browser,
    shipped_model_cache: Path,
) -> AsyncIterator[CameraFarm]:
    video, truth = escape_scene
    root = tmp_path_factory.mktemp("ui-farm")
    camera_file = root / "camera" / "pasture-north.mp4"
    camera_file.parent.mkdir()
    settings = make_appliance_settings(
        root / "appliance",
        vision=camera_vision(camera_file, truth, shipped_model_cache),
        media=MediaSettings(pre_s=2.0, post_s=2.0, max_clip_s=8.0),
        alerts=QUICK_PUSH,
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.http.port).start()
    appliance = RunningAppliance(f"http://127.0.0.1:{settings.http.port}", app, runner, settings)
    try:
        await create_first_user(appliance.url)
        async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as api:
            gate = {"device_id": "gate-north", "device_type": "gate", "name": "North gate"}
            assert (await api.post("/api/v1/devices", json=gate)).status_code == 201
        found = CameraFarm(appliance, browser, video, camera_file)

        async def detector_ready() -> bool:
            plugins = (await found.get("/api/v1/system"))["plugins"]
            return any(p["name"] == "coco" and p["status"] == "ready" for p in plugins)

        await poll(detector_ready, 90.0)
        yield found
    finally:
        await runner.cleanup()


@dataclass
class Escape:
    """The escape incident as the open feed saw it arrive."""

    ui: Ui
    incident_id: str
    seen_at: float  # browser clock, s since the epoch: the row entered the feed
    occurred_at: datetime  # the incident's first farm event: capture time of its frame
    in_feed_before: bool
    alarm_shown: bool


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def escape(farm: CameraFarm) -> AsyncIterator[Escape]:
    ui = await open_ui(farm.browser, farm.url)
    await ui.sign_in()
    await ui.goto("/incidents?state=all")
    await ui.page.wait_for_selector("#incident-list", state="attached")
    await ui.page.wait_for_selector("body[data-live='on']", state="attached")
    before = await ui.page.locator("[data-kind='escape']").count()

    await farm.start_camera()
    row = ui.page.locator("[data-kind='escape']").first
    await row.wait_for(state="attached", timeout=90000)
    incident_id = await row.get_attribute("data-incident-id")
    assert incident_id is not None
    seen = await ui.page.evaluate("() => window.__seen")
    alarm = await ui.page.locator(".toast-alarm").count()
    incident = await farm.get(f"/api/v1/incidents/{incident_id}")
    events = await farm.appliance.app[keys.EVENTS].list_events(
        types=[EventType.FARM_EVENT], limit=1000
    )
    first = min(e.occurred_at for e in events if e.correlation_id == incident["correlation_id"])
    yield Escape(ui, incident_id, seen[incident_id]["at"] / 1000, first, before > 0, alarm > 0)
    await ui.close()


async def test_escape_appears_in_the_open_feed_within_2_s_of_its_frame(escape: Escape) -> None:
    latency = escape.seen_at - escape.occurred_at.timestamp()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "feed-latency.json").write_text(json.dumps({"frame_to_feed_s": latency}))

    assert not escape.in_feed_before
    assert escape.alarm_shown
    assert 0 <= latency <= FEED_LATENCY_S, f"in the feed {latency:.3f} s after the frame"
    assert escape.ui.foreign_requests() == []
    assert escape.ui.page_errors == []


async def test_incident_clip_plays(farm: CameraFarm, escape: Escape) -> None:
    ui = await open_ui(farm.browser, farm.url, DESKTOP)
    await ui.sign_in_quietly()
    await ui.goto(f"/incidents/{escape.incident_id}")

    await ui.page.wait_for_selector("#incident-clip", state="attached", timeout=60000)
    await ui.page.evaluate(
        """async () => {
            const video = document.querySelector('#incident-clip');
            video.muted = true;
            await video.play();
        }"""
    )
    await ui.page.wait_for_function(
        "() => document.querySelector('#incident-clip').currentTime > 0.5", timeout=20000
    )
    snapshot_width = await ui.page.evaluate(
        "() => document.querySelector('#incident-snapshot')?.naturalWidth ?? 0"
    )

    assert snapshot_width > 0
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()


async def test_incident_is_acknowledged_from_its_page(farm: CameraFarm, escape: Escape) -> None:
    ui = await open_ui(farm.browser, farm.url)
    await ui.sign_in_quietly()
    await ui.goto(f"/incidents/{escape.incident_id}")

    await ui.page.click("#acknowledge")
    await ui.page.wait_for_selector(".incident-detail [data-state='acknowledged']")
    stored = await farm.get(f"/api/v1/incidents/{escape.incident_id}")
    button_left = await ui.page.locator("#acknowledge").count()

    assert (stored["state"], stored["acknowledged_by"]) == ("acknowledged", USERNAME)
    assert button_left == 0
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()


async def test_acknowledged_incident_is_resolved_with_a_note(
    farm: CameraFarm, escape: Escape
) -> None:
    ui = await open_ui(farm.browser, farm.url)
    await ui.sign_in_quietly()
    await ui.goto(f"/incidents/{escape.incident_id}")

    await ui.page.fill("#resolve-note", "Cow back in the pen, gate latch fixed")
    await ui.page.click("#resolve")
    await ui.page.wait_for_selector(".incident-detail [data-state='resolved']")
    stored = await farm.get(f"/api/v1/incidents/{escape.incident_id}")
    shown_note = await ui.page.inner_text("[data-fact='note']")

    assert (stored["state"], stored["note"]) == (
        "resolved",
        "Cow back in the pen, gate latch fixed",
    )
    assert shown_note == stored["note"]
    assert await ui.page.locator("#resolve-form").count() == 0
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()


async def test_zone_drawn_with_clicks_is_applied_to_the_pipeline(farm: CameraFarm) -> None:
    await farm.start_camera()
    ui = await open_ui(farm.browser, farm.url, DESKTOP)
    await ui.sign_in_quietly()
    await ui.goto(f"/zones/{CAMERA}")
    page = ui.page
    await page.wait_for_selector("#zone-image", state="attached")
    await page.wait_for_function(
        "() => document.querySelector('#zone-image').naturalWidth > 0", timeout=30000
    )

    await page.click("#zone-new")
    await page.fill("#zone-name", "water")
    await page.select_option("#zone-kind", "trough")
    box = await page.locator("#zone-canvas").bounding_box()
    assert box is not None
    for x, y in [(0.05, 0.05), (0.25, 0.05), (0.25, 0.2), (0.05, 0.2)]:
        await page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    handle = await page.locator("#zone-canvas .handle[data-point='2']").bounding_box()
    assert handle is not None
    await page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.25 * box["height"], steps=5)
    await page.mouse.up()
    await page.click("#zones-save")
    await page.wait_for_selector("#zones-message.ok")
    await page.wait_for_function(
        "() => document.querySelector('#zones-applied').naturalWidth > 0", timeout=20000
    )
    stored = (await farm.get(f"/api/v1/cameras/{CAMERA}/zones"))["zones"]
    applied = farm.appliance.app[PIPELINES][CAMERA].zones.settings.zones

    (water,) = [z for z in stored if z["name"] == "water"]
    expected = [(0.05, 0.05), (0.25, 0.05), (0.3, 0.25), (0.05, 0.2)]
    assert water["kind"] == "trough"
    assert len(water["points"]) == 4
    for (x, y), (ex, ey) in zip(water["points"], expected, strict=True):
        assert abs(x - ex) < 0.01
        assert abs(y - ey) < 0.01
    assert "water" in {z.name for z in applied}
    assert {z["name"] for z in stored} >= {"water", *(z.name for z in applied)}
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()


LIVE_FRAME = "() => [...document.querySelectorAll('#camera-tiles img')].every(i => i.naturalWidth)"
PAGES = [
    ("overview", "/", "#camera-tiles .tile", LIVE_FRAME),
    ("incidents", "/incidents?state=all", "#incident-list [data-incident-id]", None),
    ("incident", "/incidents/{incident}", "#incident-facts dd", None),
    ("devices", "/devices", "#device-list li", None),
    ("device", "/devices/gate-north", "#command-form", None),
    ("zones", f"/zones/{CAMERA}", "#zone-canvas", None),
    ("settings", "/settings", "#settings-alerts", None),
    ("system", "/system", "#system-cards section", None),
]


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_every_page_renders_and_is_captured(
    farm: CameraFarm, escape: Escape, size: dict[str, int]
) -> None:
    ui = await open_ui(farm.browser, farm.url, size)
    await ui.goto("/signin")
    await ui.page.wait_for_selector("#signin-form")
    shots = [await ui.screenshot("signin", size)]
    await ui.sign_in()
    for name, route, ready, condition in PAGES:
        await ui.goto(route.format(incident=escape.incident_id))
        await ui.page.wait_for_selector(ready, state="attached")
        if condition:
            await ui.page.wait_for_function(condition, timeout=20000)
        errors = await ui.page.locator("#page .error").count()
        assert errors == 0, f"{name} shows an error"
        shots.append(await ui.screenshot(name, size))

    assert all(shot.stat().st_size > 1000 for shot in shots)
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()
