"""Sign-in for the local web UI and API: first-run setup, sessions, CSRF, roles, users.

Every path under /api/ needs a principal except `OPEN_PATHS`: either the technician API
token (`Authorization: Bearer ...`, for the CLI and integrations) or a session cookie. Cookie
requests that change something must also carry the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from appliance import keys
from appliance.auth.errors import (
    LastTechnicianError,
    RateLimitedError,
    SetupDoneError,
    UnknownUserError,
    UserExistsError,
)
from appliance.auth.models import API_TOKEN_PRINCIPAL, Language, Principal, Role, SessionInfo
from appliance.auth.passwords import MAX_PASSWORD, MIN_PASSWORD, Passwords
from appliance.auth.ratelimit import LoginLimiter
from appliance.auth.sessions import SessionStore
from appliance.auth.users import UserStore
from appliance.errors import StoreError
from appliance.tasks import background
from contracts import ContractError, decode

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

USERS = web.AppKey("users", UserStore)
SESSIONS = web.AppKey("sessions", SessionStore)
PASSWORDS = web.AppKey("passwords", Passwords)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
# The request's principal: `request[PRINCIPAL]`, or `principal(request)` / `require_role(...)`.
PRINCIPAL = web.RequestKey("principal", Principal)

COOKIE = "byre_session"
CSRF_HEADER = "X-CSRF-Token"
OPEN_PATHS = frozenset({"/api/v1/auth/state", "/api/v1/auth/setup", "/api/v1/auth/login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PURGE_INTERVAL_S = 600.0
BAD_CREDENTIALS = "wrong username or password"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _normalise(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _not_reserved(value: str) -> str:
    if value == API_TOKEN_PRINCIPAL:
        raise ValueError("that name is reserved")
    return value


Username = Annotated[
    str,
    BeforeValidator(_normalise),
    Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="Letters, digits, _ . -"),
    AfterValidator(_not_reserved),
]
NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetupBody(_Body):
    username: Username
    password: NewPassword
    language: Language | None = None


class LoginBody(_Body):
    username: Annotated[str, BeforeValidator(_normalise), Field(min_length=1, max_length=64)]
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class LanguageBody(_Body):
    language: Language | None


class NewUserBody(_Body):
    username: Username
    password: NewPassword
    role: Role
    language: Language | None = None


def _json_error(
    exc: type[web.HTTPError], message: str, headers: dict[str, str] | None = None
) -> web.HTTPError:
    return exc(
        text=json.dumps({"error": message}), content_type="application/json", headers=headers
    )


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def principal(request: web.Request) -> Principal:
    """Who the request acts as (set by `auth_middleware` on every /api/ path)."""
    try:
        return request[PRINCIPAL]
    except KeyError:
        raise _json_error(web.HTTPUnauthorized, "sign in required") from None


def require_role(request: web.Request, role: Role) -> Principal:
    """The request's principal if it has `role` (technicians have every farmer right); else 403."""
    who = principal(request)
    if not who.role.allows(role):
        raise _json_error(web.HTTPForbidden, f"this needs the {role.value} role")
    return who


def _bearer_ok(request: web.Request, header: str) -> bool:
    scheme, _, given = header.partition(" ")
    expected = request.app[keys.SETTINGS].effective_api_token()
    return (
        scheme.lower() == "bearer"
        and bool(given.strip())
        and hmac.compare_digest(given.strip().encode(), expected.encode())
    )


def _protected(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    paths = {request.path, resource.canonical if resource is not None else request.path}
    return any(p.startswith("/api/") for p in paths) and not paths <= OPEN_PATHS


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the principal of every /api/ request, refuse it without one, check CSRF."""
    if not _protected(request):
        return await handler(request)
    header = request.headers.get("Authorization")
    if header is not None:
        if not _bearer_ok(request, header):
            return _error(401, "sign in required")
        request[PRINCIPAL] = Principal(API_TOKEN_PRINCIPAL, Role.TECHNICIAN)
        return await handler(request)
    token = request.cookies.get(COOKIE)
    session = await request.app[SESSIONS].get(token) if token else None
    if session is None:
        return _error(401, "sign in required")
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
            return _error(403, "CSRF token missing or invalid")
    request[PRINCIPAL] = Principal(session.username, session.role, session)
    return await handler(request)


def _same_origin(request: web.Request) -> None:
    """Refuse open POSTs sent by another site's page (login CSRF); CLIs send no Origin."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise _json_error(web.HTTPForbidden, "cross-site request refused")


async def _body(request: web.Request, model: type[_Body]) -> Any:
    raw = await request.read()
    if not raw:
        raise ContractError("request body is empty", field="body")
    return decode(model, raw)


def _me(session: SessionInfo) -> dict[str, Any]:
    return {
        "username": session.username,
        "role": session.role.value,
        "csrf_token": session.csrf_token,
        "language": session.language,
    }


async def _signed_in(request: web.Request, username: str, status: int) -> web.Response:
    token, session = await request.app[SESSIONS].create(username)
    response = web.json_response(_me(session), status=status)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(request.app[SESSIONS].max_age.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


@routes.get("/api/v1/auth/state")
async def state(request: web.Request) -> web.Response:
    return web.json_response({"setup_required": not await request.app[USERS].any()})


@routes.post("/api/v1/auth/setup")
async def setup(request: web.Request) -> web.Response:
    """First run: create the first user (a technician) and sign them in."""
    _same_origin(request)
    users = request.app[USERS]
    if await users.any():
        return _error(409, "setup is done already; sign in instead")
    body: SetupBody = await _body(request, SetupBody)
    password_hash = await request.app[PASSWORDS].hash(body.password)
    try:
        await users.create(body.username, Role.TECHNICIAN, password_hash, body.language, first=True)
    except SetupDoneError:
        return _error(409, "setup is done already; sign in instead")
    log.info("first user %s created", body.username)
    return await _signed_in(request, body.username, 201)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    _same_origin(request)
    body: LoginBody = await _body(request, LoginBody)
    attempt = [f"user:{body.username}", f"ip:{request.remote or '-'}"]
    limiter = request.app[LIMITER]
    try:
        limiter.begin(attempt)
    except RateLimitedError as err:
        log.warning("sign-in throttled for %s from %s", body.username, request.remote)
        raise _json_error(
            web.HTTPTooManyRequests,
            str(err),
            {"Retry-After": str(max(1, math.ceil(err.retry_after_s)))},
        ) from err
    passwords = request.app[PASSWORDS]
    user = await request.app[USERS].get(body.username)
    matches = await passwords.verify(user.password_hash if user else None, body.password)
    if user is None or not matches or user.disabled_at is not None:
        log.info("failed sign-in for %s from %s", body.username, request.remote)
        return _error(401, BAD_CREDENTIALS)
    limiter.succeeded(attempt)
    if passwords.needs_rehash(user.password_hash):
        await request.app[USERS].set_password_hash(
            user.username, await passwords.hash(body.password)
        )
    return await _signed_in(request, user.username, 200)


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    if token and principal(request).session is not None:
        await request.app[SESSIONS].delete(token)
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


@routes.get("/api/v1/auth/me")
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    if who.session is None:
        return web.json_response(
            {"username": who.name, "role": who.role.value, "csrf_token": None, "language": None}
        )
    return web.json_response(_me(who.session))


@routes.patch("/api/v1/auth/me")
async def update_me(request: web.Request) -> web.Response:
    who = principal(request)
    body: LanguageBody = await _body(request, LanguageBody)
    if who.session is None:
        return _error(400, "the API token has no user profile")
    await request.app[USERS].set_language(who.name, body.language)
    return web.json_response(_me(who.session) | {"language": body.language})


@routes.get("/api/v1/users")
async def list_users(request: web.Request) -> web.Response:
    require_role(request, Role.TECHNICIAN)
    return web.json_response({"items": [u.public() for u in await request.app[USERS].list()]})


@routes.post("/api/v1/users")
async def create_user(request: web.Request) -> web.Response:
    require_role(request, Role.TECHNICIAN)
    body: NewUserBody = await _body(request, NewUserBody)
    password_hash = await request.app[PASSWORDS].hash(body.password)
    try:
        user = await request.app[USERS].create(
            body.username, body.role, password_hash, body.language
        )
    except UserExistsError as err:
        return web.json_response({"error": str(err), "field": "username"}, status=409)
    log.info("user %s (%s) created by %s", user.username, user.role, principal(request).name)
    return web.json_response(user.public(), status=201)


@routes.delete("/api/v1/users/{username}")
async def delete_user(request: web.Request) -> web.Response:
    require_role(request, Role.TECHNICIAN)
    username = request.match_info["username"].strip().lower()
    try:
        await request.app[USERS].delete(username)
    except UnknownUserError as err:
        return _error(404, str(err))
    except LastTechnicianError as err:
        return _error(409, str(err))
    log.info("user %s removed by %s", username, principal(request).name)
    return web.Response(status=204)


async def auth_context(app: web.Application) -> AsyncIterator[None]:
    """Users, sessions and the sign-in limiter; ended sessions are purged in the background."""
    settings = app[keys.SETTINGS].auth
    db = app[keys.DATABASE]
    app[USERS] = UserStore(db)
    app[SESSIONS] = SessionStore(db, settings)
    app[PASSWORDS] = Passwords(settings)
    app[LIMITER] = LoginLimiter(settings.login_max_failures, settings.login_window_s)
    async with background(_purge(app[SESSIONS]), "session purge"):
        yield


async def _purge(sessions: SessionStore) -> None:
    failing = False
    while True:
        try:
            removed = await sessions.purge_expired()
        except (sqlite3.Error, StoreError) as err:
            if not failing:
                log.warning("purging ended sessions failed: %s", err)
            failing = True
        else:
            if failing:
                log.info("purging ended sessions works again")
            failing = False
            if removed:
                log.info("purged %d ended sessions", removed)
        await asyncio.sleep(PURGE_INTERVAL_S * random.uniform(0.9, 1.1))
