"""A recorded clip plays in headless Chromium (Debian's, driven by Playwright) from the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import async_playwright

from appliance import keys
from contracts import MediaKind
from tests.appliance.media.conftest import make_media_settings
from tests.appliance.media.test_api import AUTH
from tests.appliance.media.test_clip import record_scripted_event
from tests.conftest import MakeAppliance, free_port

CHROMIUM = "/usr/bin/chromium"
PAGE = """<!doctype html>
<html><body>
<video id="clip" muted playsinline preload="auto" src="{src}"></video>
</body></html>
"""


@pytest.fixture
async def page_server() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A tiny web page server on loopback; set `pages[path] = html` before loading it."""
    pages: dict[str, str] = {}

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=pages[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", pages
    await runner.cleanup()


async def test_clip_plays_in_headless_chromium(
    make_appliance: MakeAppliance,
    page_server: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    """The appliance's own engine and recorder turn a scripted camera event into a clip;
    the page loads it from the media API (with the API token) and plays it."""
    appliance = await make_appliance(media=make_media_settings())
    recorder = appliance.app[keys.MEDIA].recorder
    assert recorder is not None
    event_at, rows = await record_scripted_event(
        tmp_path, appliance.app[keys.EVENTS], recorder, appliance.app[keys.INCIDENTS]
    )
    clip = next(r for r in rows if r.kind is MediaKind.CLIP)
    assert clip.started_at < event_at
    base, pages = page_server
    pages["/player"] = PAGE.format(src=f"{appliance.url}/api/v1/media/{clip.media_id}")

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
        )
        try:
            context = await browser.new_context(extra_http_headers=AUTH)
            page = await context.new_page()
            await page.goto(f"{base}/player")
            await page.wait_for_function(
                "document.getElementById('clip').readyState >= 2", timeout=30_000
            )
            state = await page.evaluate(
                """async () => {
                    const v = document.getElementById('clip');
                    const before = v.currentTime;
                    await v.play();
                    const deadline = Date.now() + 20000;
                    while (v.currentTime <= before + 0.2 && Date.now() < deadline) {
                        await new Promise(r => setTimeout(r, 50));
                    }
                    return {
                        before, after: v.currentTime, ready: v.readyState,
                        width: v.videoWidth, height: v.videoHeight,
                        duration: v.duration, error: v.error && v.error.code,
                    };
                }"""
            )
        finally:
            await browser.close()
    assert state["error"] is None
    assert state["ready"] >= 2
    assert (state["width"], state["height"]) == (320, 240)
    assert state["duration"] > 1.0
    assert state["after"] > state["before"]
