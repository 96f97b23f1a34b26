"""Memory-hard password hashing (argon2id), run on a thread so the event loop never waits."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from appliance.auth.settings import AuthSettings

MIN_PASSWORD = 8
MAX_PASSWORD = 256
# Hashes at once: each holds `password_memory_kib` of memory for its duration.
CONCURRENT_HASHES = 2


class Passwords:
    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_time_cost,
            memory_cost=settings.password_memory_kib,
            parallelism=settings.password_parallelism,
            type=Type.ID,
        )
        self._dummy: str | None = None
        self._slots = asyncio.Semaphore(CONCURRENT_HASHES)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password; with no hash (unknown user) it costs the same and fails."""
        if password_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash("no such user, never matches")
            await self._verify(self._dummy, password)
            return False
        return await self._verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    async def _verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._check, password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
