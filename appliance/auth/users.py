"""Local users of the web UI, in the appliance database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from appliance.auth.errors import (
    LastTechnicianError,
    SetupDoneError,
    UnknownUserError,
    UserExistsError,
)
from appliance.auth.models import Language, Role, User
from appliance.store import Database

_COLUMNS = "username, role, password_hash, language, created_at, disabled_at"


def _user(row: Any) -> User:
    return User(
        username=row["username"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        language=cast("Language | None", row["language"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        disabled_at=datetime.fromisoformat(row["disabled_at"]) if row["disabled_at"] else None,
    )


class UserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def any(self) -> bool:
        return await self._db.fetch_one("SELECT 1 FROM users LIMIT 1") is not None

    async def get(self, username: str) -> User | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,)
        )
        return _user(row) if row else None

    async def list(self) -> list[User]:
        rows = await self._db.fetch_all(f"SELECT {_COLUMNS} FROM users ORDER BY username")
        return [_user(r) for r in rows]

    async def create(
        self,
        username: str,
        role: Role,
        password_hash: str,
        language: Language | None = None,
        *,
        first: bool = False,
    ) -> User:
        """Add a user; with `first`, only while there is no user at all (the first-run setup)."""
        user = User(username, role, password_hash, language, datetime.now(UTC))
        async with self._db.transaction() as conn:
            if first:
                async with conn.execute("SELECT 1 FROM users LIMIT 1") as cursor:
                    if await cursor.fetchone() is not None:
                        raise SetupDoneError("the first user exists already")
            async with conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)) as cur:
                if await cur.fetchone() is not None:
                    raise UserExistsError(f"user {username!r} exists already")
            await conn.execute(
                f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL)",
                (username, role.value, password_hash, language, user.created_at.isoformat()),
            )
        return user

    async def delete(self, username: str) -> None:
        """Remove a user and their sessions; the last technician cannot be removed."""
        async with self._db.transaction() as conn:
            async with conn.execute("SELECT role FROM users WHERE username = ?", (username,)) as c:
                row = await c.fetchone()
            if row is None:
                raise UnknownUserError(f"no user {username!r}")
            if row["role"] == Role.TECHNICIAN.value:
                async with conn.execute(
                    "SELECT count(*) FROM users WHERE role = ? AND disabled_at IS NULL",
                    (Role.TECHNICIAN.value,),
                ) as c:
                    count = await c.fetchone()
                if count is None or int(count[0]) <= 1:
                    raise LastTechnicianError("the last technician cannot be removed")
            await conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
            await conn.execute("DELETE FROM users WHERE username = ?", (username,))

    async def set_language(self, username: str, language: Language | None) -> None:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE users SET language = ? WHERE username = ?", (language, username)
            )
            if cursor.rowcount == 0:
                raise UnknownUserError(f"no user {username!r}")

    async def set_password_hash(self, username: str, password_hash: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username)
            )
