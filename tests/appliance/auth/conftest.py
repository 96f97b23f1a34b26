"""A running appliance and browser-like clients (cookie jar, CSRF header) signed in to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.conftest import API_TOKEN, MakeAppliance, RunningAppliance

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PASSWORD = "correct horse battery"


@dataclass
class Browser:
    """An aiohttp client that keeps cookies like a browser and knows its CSRF token."""

    http: aiohttp.ClientSession
    csrf: str = ""

    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}

    async def call(
        self, method: str, path: str, json: Any = None, *, csrf: bool = True
    ) -> tuple[int, Any]:
        headers = self.headers() if csrf else {}
        async with self.http.request(method, path, json=json, headers=headers) as reply:
            body = await reply.json() if reply.content_type == "application/json" else None
            return reply.status, body

    async def sign_in(self, username: str, password: str = PASSWORD) -> tuple[int, Any]:
        status, body = await self.call(
            "POST", "/api/v1/auth/login", {"username": username, "password": password}
        )
        if status == 200:
            self.csrf = body["csrf_token"]
        return status, body

    async def set_up(self, username: str = "tess", password: str = PASSWORD) -> tuple[int, Any]:
        status, body = await self.call(
            "POST", "/api/v1/auth/setup", {"username": username, "password": password}
        )
        if status == 201:
            self.csrf = body["csrf_token"]
        return status, body


MakeBrowser = Callable[[RunningAppliance], Awaitable[Browser]]


@pytest.fixture
async def make_browser() -> AsyncIterator[MakeBrowser]:
    sessions: list[aiohttp.ClientSession] = []

    async def make(appliance: RunningAppliance) -> Browser:
        # unsafe=True: keep cookies of an IP-address host (127.0.0.1), as browsers do.
        http = aiohttp.ClientSession(
            base_url=appliance.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        sessions.append(http)
        return Browser(http)

    yield make
    for http in sessions:
        await http.close()


async def add_user(appliance: RunningAppliance, username: str, role: str) -> None:
    """Create a user with the technician API token (as the CLI would)."""
    async with aiohttp.ClientSession(headers=AUTH) as http:
        body = {"username": username, "password": PASSWORD, "role": role}
        async with http.post(f"{appliance.url}/api/v1/users", json=body) as reply:
            assert reply.status == 201, await reply.text()


@pytest.fixture
async def appliance(make_appliance: MakeAppliance) -> RunningAppliance:
    return await make_appliance()
