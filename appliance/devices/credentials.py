"""Device secrets: generated once, stored only as salted scrypt hashes.

A stored hash reads `scrypt$<log2 n>$<r>$<p>$<salt>$<key>` (base64 without padding), so the
cost can be raised later without invalidating older hashes. Secrets are 192-bit random tokens;
scrypt guards them even if the database is copied. Hashing runs on a worker thread, one at a
time, so a burst of reconnecting devices cannot starve the event loop of CPU.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

SECRET_BYTES = 24
LOG2_N = 14
BLOCK_SIZE = 8
PARALLELISM = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def new_secret() -> str:
    """A fresh device secret (URL-safe, 32 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=2**log2_n, r=r, p=p, dklen=_KEY_BYTES, maxmem=_MAXMEM
    )


def hash_secret(secret: str, log2_n: int = LOG2_N) -> str:
    """The storable hash of `secret` (blocking: about 50 ms of CPU at the default cost)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(secret, salt, log2_n, BLOCK_SIZE, PARALLELISM)
    return f"scrypt${log2_n}${BLOCK_SIZE}${PARALLELISM}${_b64(salt)}${_b64(key)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches `stored` (blocking); a malformed hash never matches."""
    try:
        scheme, log2_n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(secret, _unb64(salt), int(log2_n), int(r), int(p))
        return hmac.compare_digest(derived, _unb64(key))
    except (ValueError, TypeError):
        return False


class SecretHasher:
    """Runs hashing and verification on a worker thread, one at a time."""

    def __init__(self) -> None:
        self._one_at_a_time = asyncio.Semaphore(1)

    async def hash(self, secret: str) -> str:
        async with self._one_at_a_time:
            return await asyncio.to_thread(hash_secret, secret)

    async def verify(self, secret: str, stored: str) -> bool:
        async with self._one_at_a_time:
            return await asyncio.to_thread(verify_secret, secret, stored)
