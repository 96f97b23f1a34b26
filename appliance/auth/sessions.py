"""Browser sessions: a random token in the cookie, only its SHA-256 in the database.

A session ends after `session_idle_s` without use or `session_max_s` after sign-in,
whichever comes first. `last_seen_at` is written at most every `touch_interval_s`, so
reading pages does not turn into a database write per request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import cast

from appliance.auth.models import Language, Role, SessionInfo
from appliance.auth.settings import AuthSettings
from appliance.errors import StoreError
from appliance.store import Database


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, db: Database, settings: AuthSettings) -> None:
        self._db = db
        self.idle = timedelta(seconds=settings.session_idle_s)
        self.max_age = timedelta(seconds=settings.session_max_s)
        self.touch_interval = min(timedelta(seconds=60), self.idle / 4)

    async def create(self, username: str) -> tuple[str, SessionInfo]:
        """Start a session; returns the cookie token (never stored) and the session."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        csrf = secrets.token_urlsafe(32)
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO sessions (token_hash, username, csrf_token, created_at, expires_at,"
                " last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token_hash(token),
                    username,
                    csrf,
                    _iso(now),
                    _iso(now + self.max_age),
                    _iso(now),
                ),
            )
        session = await self.get(token)
        if session is None:
            raise StoreError(f"session of {username!r} vanished right after sign-in")
        return token, session

    async def get(self, token: str) -> SessionInfo | None:
        """The live session of a cookie token, or None if unknown, expired or disabled."""
        row = await self._db.fetch_one(
            "SELECT s.token_hash, s.username, s.csrf_token, s.created_at, s.expires_at,"
            " s.last_seen_at, u.role, u.language FROM sessions s"
            " JOIN users u ON u.username = s.username"
            " WHERE s.token_hash = ? AND u.disabled_at IS NULL",
            (token_hash(token),),
        )
        if row is None:
            return None
        session = SessionInfo(
            token_hash=row["token_hash"],
            username=row["username"],
            role=Role(row["role"]),
            language=cast("Language | None", row["language"]),
            csrf_token=row["csrf_token"],
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
            last_seen_at=datetime.fromisoformat(row["last_seen_at"]),
        )
        now = datetime.now(UTC)
        if now >= session.expires_at or now >= session.last_seen_at + self.idle:
            await self._delete_hash(session.token_hash)
            return None
        if now - session.last_seen_at >= self.touch_interval:
            async with self._db.transaction() as conn:
                await conn.execute(
                    "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?",
                    (_iso(now), session.token_hash),
                )
        return session

    async def delete(self, token: str) -> None:
        await self._delete_hash(token_hash(token))

    async def purge_expired(self) -> int:
        """Remove every ended session; returns how many."""
        now = datetime.now(UTC)
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?",
                (_iso(now), _iso(now - self.idle)),
            )
            return int(cursor.rowcount)

    async def _delete_hash(self, digest: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
