"""Signing test requests the way an appliance does (Ed25519 over `contracts.signed_message`)."""

from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contracts.sync import signed_message


def public_key(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def signed_headers(
    appliance_id: str, key: Ed25519PrivateKey, method: str, path: str, body: bytes, at_ms: int
) -> dict[str, str]:
    message = signed_message(method, path, str(at_ms), body)
    return {
        "X-Byre-Appliance": appliance_id,
        "X-Byre-Timestamp": str(at_ms),
        "X-Byre-Signature": base64.b64encode(key.sign(message)).decode(),
        "Content-Type": "application/json",
    }


def now_ms() -> int:
    return int(time.time() * 1000)
