"""Secrets: enrolment codes (stored only as hashes) and appliance request signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


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


def public_key_bytes(encoded: str) -> bytes:
    """The 32 raw bytes of a base64 Ed25519 public key (the contract checks the shape)."""
    return base64.b64decode(encoded, validate=True)


def key_fingerprint(encoded: str) -> str:
    return hashlib.sha256(public_key_bytes(encoded)).hexdigest()


def signature_is_valid(public_key: str, signature: str, message: bytes) -> bool:
    """Check an Ed25519 signature (base64) by the appliance's stored public key."""
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key_bytes(public_key))
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
