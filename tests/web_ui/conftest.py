"""Fixtures of the web UI tests: Debian's Chromium, driven headless by Playwright, against
real appliances on loopback. No browser is ever downloaded: Playwright launches
/usr/bin/chromium. Every request a page makes is recorded, so a test can assert that the UI
asked nothing of any host but the appliance."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from appliance.alerts.settings import AlertSettings
from appliance.app import create_app
from tests.conftest import API_TOKEN, RunningAppliance, make_appliance_settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
USERNAME = "anna"
PASSWORD = "barn-door-2026"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
# the push stream notices a closed page at its next keep-alive: keep shutdowns quick
QUICK_PUSH = AlertSettings(sse_heartbeat_s=0.5)

# Stamps (browser clock, ms since the epoch) when each incident row first enters the page.
SEEN_SCRIPT = """
window.__seen = {};
new MutationObserver((mutations) => {
  const now = Date.now();
  for (const mutation of mutations) {
    for (const node of mutation.addedNodes) {
      if (node.nodeType !== 1) continue;
      const rows = node.matches('[data-incident-id]') ? [node] : [];
      rows.push(...node.querySelectorAll('[data-incident-id]'));
      for (const row of rows) {
        const id = row.dataset.incidentId;
        if (!(id in window.__seen)) window.__seen[id] = {at: now, kind: row.dataset.kind};
      }
    }
  }
}).observe(document, {childList: true, subtree: true});
"""


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
    )


@dataclass
class Ui:
    """One browser context (its own cookies) and page on an appliance; records every request."""

    base_url: str
    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests to any host other than the appliance (data: and blob: URLs are local)."""
        host = urlsplit(self.base_url).netloc
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:")) and urlsplit(url).netloc != host
        ]

    async def goto(self, route: str) -> None:
        """Open `#/route` (no `load` wait: a live MJPEG view never finishes loading)."""
        await self.page.goto(f"{self.base_url}/#{route}", wait_until="domcontentloaded")
        await self.page.wait_for_selector("body[data-ready='true']")

    async def sign_in(self, username: str = USERNAME, password: str = PASSWORD) -> None:
        await self.goto("/signin")
        await self.page.fill("#username", username)
        await self.page.fill("#password", password)
        await self.page.click("#signin-submit")
        await self.page.wait_for_selector("#nav .nav-item")

    async def sign_in_quietly(self, username: str = USERNAME, password: str = PASSWORD) -> None:
        """Sign this browser in through the API (its cookie jar), for tests about other pages."""
        reply = await self.context.request.post(
            f"{self.base_url}/api/v1/auth/login",
            data={"username": username, "password": password},
        )
        assert reply.status == 200, await reply.text()

    async def set_viewport(self, size: dict[str, int]) -> None:
        await self.page.set_viewport_size(size)  # type: ignore[arg-type]

    async def screenshot(self, name: str, size: dict[str, int]) -> Path:
        label = "phone" if size == PHONE else "desktop"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}-{label}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the API as this browser's session (cookie and CSRF header), from the page."""
        return await self.page.evaluate(
            """async ([method, path, body]) => {
                const me = await (await fetch('/api/v1/auth/me')).json();
                const reply = await fetch(path, {
                    method,
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
                    body: body === null ? undefined : JSON.stringify(body),
                });
                return {status: reply.status, body: await reply.json()};
            }""",
            [method, path, body],
        )

    async def close(self) -> None:
        await self.context.close()


async def open_ui(
    browser: Browser, base_url: str, size: dict[str, int] = PHONE, locale: str = "en-US"
) -> Ui:
    context = await browser.new_context(
        viewport=size,  # type: ignore[arg-type]
        locale=locale,
        service_workers="block",
        permissions=["notifications"],
    )
    page = await context.new_page()
    ui = Ui(base_url, context, page)
    context.on("request", lambda request: ui.requests.append(request.url))
    page.on("pageerror", lambda error: ui.page_errors.append(str(error)))
    await context.add_init_script(SEEN_SCRIPT)
    return ui


async def create_first_user(base_url: str, language: str | None = None) -> None:
    """First-run setup through the API (tests that are not about the setup page)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        body: dict[str, Any] = {"username": USERNAME, "password": PASSWORD}
        if language:
            body["language"] = language
        reply = await client.post("/api/v1/auth/setup", json=body)
        assert reply.status_code == 201, reply.text


async def wait_until(page: Page, expression: str, timeout_s: float = 20.0) -> None:
    await page.wait_for_function(expression, timeout=timeout_s * 1000)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium per test module; tests use it from the module's event loop
    (`pytestmark = pytest.mark.asyncio(loop_scope="module")`), each in its own context."""
    async with async_playwright() as playwright:
        launched = await launch(playwright)
        yield launched
        await launched.close()


StartAppliance = Callable[..., Awaitable[RunningAppliance]]


@pytest_asyncio.fixture(loop_scope="module")
async def start_appliance(tmp_path: Path) -> AsyncIterator[StartAppliance]:
    """`tests.conftest.make_appliance` on the module's event loop (where Chromium runs), with
    a quick push keep-alive; every appliance is stopped at teardown."""
    running: list[RunningAppliance] = []

    async def start(data_dir: Path | None = None, **overrides: Any) -> RunningAppliance:
        overrides.setdefault("alerts", QUICK_PUSH)
        settings = make_appliance_settings(
            data_dir or tmp_path / f"appliance-{len(running)}", **overrides
        )
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.http.port).start()
        url = f"http://127.0.0.1:{settings.http.port}"
        running.append(RunningAppliance(url, runner.app, runner, settings))
        return running[-1]

    yield start
    for appliance in running:
        await appliance.runner.cleanup()


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True)


async def poll(predicate: Any, seconds: float = 20.0) -> None:
    """Like tests.conftest.eventually, for predicates that need the running loop."""
    for _ in range(int(seconds / 0.1)):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {seconds} s")
