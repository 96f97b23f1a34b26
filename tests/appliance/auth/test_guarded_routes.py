"""Every route of the app, found from its router: /api/ needs a principal, CSRF and the role.

The routes come from the app factory itself, so a route added later is checked too.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from appliance import keys
from appliance.app import create_app
from tests.appliance.auth.conftest import AUTH, PASSWORD
from tests.conftest import RunningAppliance, make_appliance_settings

# The only /api/ routes anyone may call without signing in.
OPEN_API = {
    ("GET", "/api/v1/auth/state"),
    ("POST", "/api/v1/auth/setup"),
    ("POST", "/api/v1/auth/login"),
}
# Outside /api/: the page, its static files, health and the Prometheus scrape.
OPEN_OUTSIDE = re.compile(r"^/($|static(/|$)|healthz$|metrics$)")
SAFE = {"GET", "HEAD", "OPTIONS"}


def _routes() -> list[tuple[str, str]]:
    app = create_app(make_appliance_settings(Path("/nonexistent")))
    found = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    return sorted(found)


ROUTES = _routes()
GUARDED = [r for r in ROUTES if r[1].startswith("/api/") and r not in OPEN_API]
UNSAFE = [r for r in GUARDED if r[0] not in SAFE]
FARMER_REFUSED = [
    ("POST", "/api/v1/events"),
    ("POST", "/api/v1/enrolment"),
    ("POST", "/api/v1/devices"),
    ("POST", "/api/v1/devices/{device_id}/secret"),
    ("DELETE", "/api/v1/devices/{device_id}"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("DELETE", "/api/v1/users/{username}"),
]


def _url(path: str) -> str:
    """A concrete URL for a route: every {placeholder} (with or without a regex) becomes `x`."""
    return re.sub(r"\{[^}]*\}", "x", path)


def _ids(routes: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in routes]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningAppliance]:
    """One appliance for the whole sweep, with a technician, a farmer and their browsers."""
    settings = make_appliance_settings(tmp_path_factory.mktemp("guarded"))
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.http.port).start()
    appliance = RunningAppliance(f"http://127.0.0.1:{settings.http.port}", app, runner, settings)
    async with aiohttp.ClientSession(headers=AUTH) as http:
        for name, role in [("tess", "technician"), ("fred", "farmer")]:
            body = {"username": name, "password": PASSWORD, "role": role}
            async with http.post(f"{appliance.url}/api/v1/users", json=body) as reply:
                assert reply.status == 201
    yield appliance
    await runner.cleanup()


async def _signed_in(appliance: RunningAppliance, username: str) -> tuple[str, str]:
    """A session cookie and its CSRF token."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{appliance.url}/api/v1/auth/login",
            json={"username": username, "password": PASSWORD},
        ) as reply,
    ):
        assert reply.status == 200
        return reply.cookies["byre_session"].value, (await reply.json())["csrf_token"]


async def _status(
    appliance: RunningAppliance,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    cookie: str | None = None,
) -> tuple[int, object]:
    sent = dict(headers or {}) | ({"Cookie": f"byre_session={cookie}"} if cookie else {})
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, appliance.url + _url(path), headers=sent, json={}) as reply,
    ):
        body = await reply.json() if reply.content_type == "application/json" else None
        return reply.status, body


def test_the_sweep_sees_the_api_and_the_open_list_is_exact() -> None:
    assert len(GUARDED) >= 20
    assert set(FARMER_REFUSED) <= set(GUARDED)
    assert set(ROUTES) >= OPEN_API


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if not r[1].startswith("/api/")])
def test_routes_outside_the_api_are_only_the_page_static_files_and_probes(
    method: str, path: str
) -> None:
    assert OPEN_OUTSIDE.match(path), f"{method} {path} is outside /api/ and so unguarded"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), GUARDED, ids=_ids(GUARDED))
@pytest.mark.parametrize(
    "credentials",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzczp4"}],
    ids=["none", "wrong-token", "basic"],
)
async def test_unauthenticated_requests_are_refused(
    running: RunningAppliance, method: str, path: str, credentials: dict[str, str]
) -> None:
    status, body = await _status(running, method, path, credentials)

    assert (status, body) == (401, {"error": "sign in required"})


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), GUARDED, ids=_ids(GUARDED))
async def test_a_forged_session_cookie_is_refused(
    running: RunningAppliance, method: str, path: str
) -> None:
    status, _ = await _status(running, method, path, cookie="forged-session-token-0123456789")

    assert status == 401


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), UNSAFE, ids=_ids(UNSAFE))
@pytest.mark.parametrize(
    "csrf", [{}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}], ids=["none", "forged", "empty"]
)
async def test_cookie_writes_without_the_csrf_token_are_refused_and_change_nothing(
    running: RunningAppliance, method: str, path: str, csrf: dict[str, str]
) -> None:
    cookie, _ = await _signed_in(running, "tess")
    db = running.app[keys.DATABASE]
    before = [await db.fetch_all(f"SELECT * FROM {t}") for t in ("users", "events", "devices")]

    status, body = await _status(running, method, path, csrf, cookie=cookie)
    after = [await db.fetch_all(f"SELECT * FROM {t}") for t in ("users", "events", "devices")]

    assert (status, body) == (403, {"error": "CSRF token missing or invalid"})
    assert [[tuple(r) for r in t] for t in after] == [[tuple(r) for r in t] for t in before]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), FARMER_REFUSED, ids=_ids(FARMER_REFUSED))
async def test_a_farmer_is_refused_technician_routes(
    running: RunningAppliance, method: str, path: str
) -> None:
    cookie, csrf = await _signed_in(running, "fred")

    status, body = await _status(running, method, path, {"X-CSRF-Token": csrf}, cookie=cookie)

    assert (status, body) == (403, {"error": "this needs the technician role"})


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), [r for r in GUARDED if r[0] == "GET"])
async def test_the_api_token_still_opens_every_read(
    running: RunningAppliance, method: str, path: str
) -> None:
    status, _ = await _status(running, method, path, AUTH)

    assert status not in (401, 403)
