"""Password hashes, the user and session stores on a real SQLite file, and the limiter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type
from argon2.exceptions import VerifyMismatchError

from appliance import keys
from appliance.auth.errors import LastTechnicianError, RateLimitedError, SetupDoneError
from appliance.auth.models import Role
from appliance.auth.passwords import Passwords
from appliance.auth.ratelimit import LoginLimiter
from appliance.auth.sessions import SessionStore, token_hash
from appliance.auth.settings import AuthSettings
from appliance.auth.users import UserStore
from appliance.store import Database
from tests.appliance.auth.conftest import PASSWORD, add_user
from tests.conftest import RunningAppliance


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "appliance.db")
    await database.open()
    yield database
    await database.close()


async def test_the_stored_password_is_an_argon2id_hash_and_never_the_password(
    appliance: RunningAppliance,
) -> None:
    await add_user(appliance, "fred", "farmer")
    [row] = await appliance.app[keys.DATABASE].fetch_all("SELECT password_hash FROM users")
    stored: str = row[0]

    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(stored, PASSWORD + "!")


async def test_passwords_verify_and_unknown_users_fail_at_the_same_cost() -> None:
    passwords = Passwords(AuthSettings(password_memory_kib=8192, password_time_cost=1))
    hashed = await passwords.hash(PASSWORD)

    assert await passwords.verify(hashed, PASSWORD) is True
    assert await passwords.verify(hashed, "not it at all") is False
    assert await passwords.verify(None, PASSWORD) is False
    assert await passwords.verify("not a hash", PASSWORD) is False
    assert passwords.needs_rehash(hashed) is False
    assert PasswordHasher(type=Type.ID).check_needs_rehash(hashed) is True


async def test_setup_creates_only_the_first_user(db: Database) -> None:
    users = UserStore(db)
    await users.create("tess", Role.TECHNICIAN, "h", first=True)

    with pytest.raises(SetupDoneError):
        await users.create("mallory", Role.TECHNICIAN, "h", first=True)
    assert [u.username for u in await users.list()] == ["tess"]


async def test_the_last_technician_cannot_be_removed(db: Database) -> None:
    users = UserStore(db)
    await users.create("tess", Role.TECHNICIAN, "h")
    await users.create("fred", Role.FARMER, "h")

    with pytest.raises(LastTechnicianError):
        await users.delete("tess")
    await users.delete("fred")
    assert [u.username for u in await users.list()] == ["tess"]


async def test_sessions_keep_only_a_hash_of_the_token(db: Database) -> None:
    await UserStore(db).create("tess", Role.TECHNICIAN, "h")
    sessions = SessionStore(db, AuthSettings())

    token, session = await sessions.create("tess")
    [row] = await db.fetch_all("SELECT token_hash FROM sessions")
    found = await sessions.get(token)

    assert row[0] == token_hash(token) != token
    assert found is not None
    assert (found.username, found.role, found.csrf_token) == (
        "tess",
        Role.TECHNICIAN,
        session.csrf_token,
    )
    assert await sessions.get(token + "x") is None


async def test_purge_removes_only_ended_sessions(db: Database) -> None:
    await UserStore(db).create("tess", Role.TECHNICIAN, "h")
    sessions = SessionStore(db, AuthSettings())
    live, _ = await sessions.create("tess")
    ended, _ = await sessions.create("tess")
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000+00:00'"
            " WHERE token_hash = ?",
            (token_hash(ended),),
        )

    removed = await sessions.purge_expired()

    assert removed == 1
    assert await sessions.get(live) is not None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_locks_after_the_limit_and_opens_after_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=3, window_s=60, clock=clock)
    for _ in range(3):
        limiter.begin(["user:tess", "ip:a"])
        clock.now += 1

    with pytest.raises(RateLimitedError) as locked:
        limiter.begin(["user:tess", "ip:b"])
    clock.now += locked.value.retry_after_s
    limiter.begin(["user:tess", "ip:b"])

    assert locked.value.retry_after_s == pytest.approx(57.0)


def test_limiter_forgets_failures_after_a_success() -> None:
    limiter = LoginLimiter(max_failures=2, window_s=60, clock=Clock())
    limiter.begin(["user:tess", "ip:a"])
    limiter.begin(["user:tess", "ip:a"])
    limiter.succeeded(["user:tess", "ip:a"])

    limiter.begin(["user:tess", "ip:a"])
    limiter.begin(["user:tess", "ip:a"])
    with pytest.raises(RateLimitedError):
        limiter.begin(["user:tess", "ip:a"])
