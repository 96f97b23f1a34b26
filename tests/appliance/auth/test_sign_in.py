"""First run, sign-in, sign-out, cookies, throttling and session expiry over real HTTP."""

from __future__ import annotations

from http.cookies import SimpleCookie

import aiohttp
import pytest
from yarl import URL

from appliance import keys
from appliance.auth.sessions import token_hash
from appliance.auth.settings import AuthSettings
from tests.appliance.auth.conftest import AUTH, PASSWORD, MakeBrowser, add_user
from tests.conftest import MakeAppliance, RunningAppliance


async def test_first_run_creates_a_technician_and_signs_them_in(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    browser = await make_browser(appliance)
    before = await browser.call("GET", "/api/v1/auth/state")
    created = await browser.call(
        "POST",
        "/api/v1/auth/setup",
        {"username": "Tess", "password": PASSWORD, "language": "ru"},
    )
    browser.csrf = created[1]["csrf_token"]
    me = await browser.call("GET", "/api/v1/auth/me")
    after = await browser.call("GET", "/api/v1/auth/state")

    assert before == (200, {"setup_required": True})
    assert created[0] == 201
    assert {k: v for k, v in created[1].items() if k != "csrf_token"} == {
        "username": "tess",
        "role": "technician",
        "language": "ru",
    }
    assert me == (200, created[1])
    assert after == (200, {"setup_required": False})


async def test_setup_is_closed_once_a_user_exists(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    first = await make_browser(appliance)
    await first.set_up("tess")
    intruder = await make_browser(appliance)

    status, body = await intruder.set_up("mallory")
    signed_in = await intruder.call("GET", "/api/v1/auth/me")

    assert status == 409
    assert body["error"]
    assert signed_in[0] == 401
    rows = await appliance.app[keys.DATABASE].fetch_all("SELECT username FROM users")
    assert [tuple(r) for r in rows] == [("tess",)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "tess", "password": "short"}, "password"),
        ({"username": "no spaces", "password": PASSWORD}, "username"),
        ({"username": "tess", "password": PASSWORD, "language": "de"}, "language"),
        ({"username": "tess", "password": PASSWORD, "role": "farmer"}, "role"),
        ({"username": "API-Token", "password": PASSWORD}, "username"),
    ],
)
async def test_bad_setup_is_refused_and_creates_nothing(
    appliance: RunningAppliance, make_browser: MakeBrowser, body: dict[str, str], field: str
) -> None:
    browser = await make_browser(appliance)

    status, reply = await browser.call("POST", "/api/v1/auth/setup", body)
    state = await browser.call("GET", "/api/v1/auth/state")

    assert (status, reply["field"]) == (400, field)
    assert state == (200, {"setup_required": True})


async def test_session_cookie_is_http_only_same_site_strict_and_not_secure_over_http(
    appliance: RunningAppliance,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{appliance.url}/api/v1/auth/setup", json={"username": "tess", "password": PASSWORD}
        ) as reply,
    ):
        cookie = SimpleCookie(reply.headers["Set-Cookie"])["byre_session"]

    assert reply.status == 201
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["secure"] == ""
    assert len(cookie.value) >= 32


async def test_sign_in_and_sign_out(appliance: RunningAppliance, make_browser: MakeBrowser) -> None:
    await (await make_browser(appliance)).set_up("tess")
    browser = await make_browser(appliance)

    signed_in = await browser.sign_in("tess")
    me = await browser.call("GET", "/api/v1/auth/me")
    cookie = browser.http.cookie_jar.filter_cookies(URL(appliance.url))["byre_session"].value
    signed_out = await browser.call("POST", "/api/v1/auth/logout")
    after = await browser.call("GET", "/api/v1/auth/me")
    async with (
        aiohttp.ClientSession() as replay,
        replay.get(
            f"{appliance.url}/api/v1/auth/me", headers={"Cookie": f"byre_session={cookie}"}
        ) as reused,
    ):
        reused_status = reused.status

    assert signed_in[0] == 200
    assert me == signed_in
    assert signed_out == (204, None)
    assert after == (401, {"error": "sign in required"})
    assert reused_status == 401
    assert (
        await appliance.app[keys.DATABASE].fetch_all(
            "SELECT * FROM sessions WHERE token_hash = ?", (token_hash(cookie),)
        )
        == []
    )


@pytest.mark.parametrize(
    ("username", "password"), [("tess", "wrong password"), ("nobody", PASSWORD)]
)
async def test_wrong_password_and_unknown_user_get_the_same_401(
    appliance: RunningAppliance, make_browser: MakeBrowser, username: str, password: str
) -> None:
    await (await make_browser(appliance)).set_up("tess")
    browser = await make_browser(appliance)

    status, body = await browser.sign_in(username, password)

    assert (status, body) == (401, {"error": "wrong username or password"})
    assert "byre_session" not in browser.http.cookie_jar.filter_cookies(URL(appliance.url))


async def test_cross_site_sign_in_is_refused(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    await (await make_browser(appliance)).set_up("tess")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{appliance.url}/api/v1/auth/login",
            json={"username": "tess", "password": PASSWORD},
            headers={"Origin": "http://evil.example"},
        ) as reply,
    ):
        status = reply.status

    assert status == 403


async def test_five_failures_for_a_user_lock_even_the_right_password_out(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    await (await make_browser(appliance)).set_up("tess")
    browser = await make_browser(appliance)

    failures = [(await browser.sign_in("tess", f"guess-{n}"))[0] for n in range(5)]
    async with browser.http.post(
        "/api/v1/auth/login", json={"username": "tess", "password": PASSWORD}
    ) as reply:
        locked, retry_after = reply.status, int(reply.headers["Retry-After"])

    assert failures == [401] * 5
    assert locked == 429
    assert 0 < retry_after <= 15 * 60
    assert "byre_session" not in browser.http.cookie_jar.filter_cookies(URL(appliance.url))


async def test_five_failures_from_one_address_lock_out_every_username(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    await (await make_browser(appliance)).set_up("tess")
    browser = await make_browser(appliance)

    failures = [(await browser.sign_in(f"guess-{n}", PASSWORD))[0] for n in range(5)]
    locked = await browser.sign_in("tess", PASSWORD)

    assert failures == [401] * 5
    assert locked[0] == 429


async def test_a_successful_sign_in_forgets_earlier_failures_of_that_user(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    await (await make_browser(appliance)).set_up("tess")
    browser = await make_browser(appliance)

    early = [(await browser.sign_in("tess", f"guess-{n}"))[0] for n in range(4)]
    right = await browser.sign_in("tess")
    late = [(await browser.sign_in("tess", f"guess-{n}"))[0] for n in range(4)]
    again = await browser.sign_in("tess")

    assert early == late == [401] * 4
    assert (right[0], again[0]) == (200, 200)


@pytest.mark.parametrize(
    ("column", "shift"),
    [
        ("last_seen_at", "-600 seconds"),  # unused for the idle timeout
        ("expires_at", "-0 seconds"),  # in use, but at the end of its absolute lifetime
    ],
)
async def test_ended_sessions_are_refused(
    make_appliance: MakeAppliance, make_browser: MakeBrowser, column: str, shift: str
) -> None:
    appliance = await make_appliance(auth=AuthSettings(session_idle_s=600, session_max_s=3600))
    browser = await make_browser(appliance)
    await browser.set_up("tess")
    async with appliance.app[keys.DATABASE].transaction() as conn:
        await conn.execute(
            f"UPDATE sessions SET {column} = strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now', ?)",
            (shift,),
        )

    status, body = await browser.call("GET", "/api/v1/auth/me")

    assert (status, body) == (401, {"error": "sign in required"})
    assert await appliance.app[keys.DATABASE].fetch_all("SELECT * FROM sessions") == []


async def test_a_session_in_use_stays_valid(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    browser = await make_browser(appliance)
    await browser.set_up("tess")

    replies = [(await browser.call("GET", "/api/v1/auth/me"))[0] for _ in range(3)]

    assert replies == [200, 200, 200]


async def test_language_is_kept_per_user(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    browser = await make_browser(appliance)
    await browser.set_up("tess")

    changed = await browser.call("PATCH", "/api/v1/auth/me", {"language": "ru"})
    bad = await browser.call("PATCH", "/api/v1/auth/me", {"language": "xx"})
    again = await make_browser(appliance)
    _, me = await again.sign_in("tess")

    assert (changed[0], changed[1]["language"]) == (200, "ru")
    assert (bad[0], bad[1]["field"]) == (400, "language")
    assert me["language"] == "ru"


async def test_users_are_managed_by_technicians_and_the_last_one_stays(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    tess = await make_browser(appliance)
    await tess.set_up("tess")

    farmer = await tess.call(
        "POST", "/api/v1/users", {"username": "fred", "password": PASSWORD, "role": "farmer"}
    )
    duplicate = await tess.call(
        "POST", "/api/v1/users", {"username": "fred", "password": PASSWORD, "role": "farmer"}
    )
    reserved = await tess.call(
        "POST",
        "/api/v1/users",
        {"username": "api-token", "password": PASSWORD, "role": "technician"},
    )
    last = await tess.call("DELETE", "/api/v1/users/tess")
    await add_user(appliance, "tom", "technician")
    removed = await tess.call("DELETE", "/api/v1/users/tess")
    after = await tess.call("GET", "/api/v1/auth/me")
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(f"{appliance.url}/api/v1/users") as listed,
    ):
        names = [(u["username"], u["role"]) for u in (await listed.json())["items"]]

    assert (farmer[0], farmer[1]["role"]) == (201, "farmer")
    assert "password" not in str(farmer[1])
    assert (duplicate[0], duplicate[1]["field"]) == (409, "username")
    assert (reserved[0], reserved[1]["field"]) == (400, "username")
    assert last[0] == 409
    assert removed == (204, None)
    assert after[0] == 401
    assert names == [("fred", "farmer"), ("tom", "technician")]
