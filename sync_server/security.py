"""Secrets: appliance tokens and enrolment codes, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_enrolment_code() -> str:
    """A code a technician can read over the phone: XXXX-XXXX-XXXX (60 bits)."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
