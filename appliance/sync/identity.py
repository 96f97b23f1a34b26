"""The appliance's identity at central, kept in the local store after enrolment.

The credential is an Ed25519 key pair made on the appliance; central only ever sees the
public half. The private key lives in the appliance database's key-value table.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.store.kv import KeyValue

log = logging.getLogger(__name__)
_KEY = "central.identity"


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_text(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.private_bytes_raw()).decode()


def public_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def fingerprint(public_key: str) -> str:
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()


@dataclass(frozen=True)
class Identity:
    server_url: str
    appliance_id: str
    farm_id: str
    private_key: str  # raw Ed25519 private key, base64

    def __repr__(self) -> str:  # never print the credential
        return f"Identity(server_url={self.server_url!r}, appliance_id={self.appliance_id!r})"

    def signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(self.private_key))


class IdentityStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def load(self) -> Identity | None:
        value = await self.kv.get(_KEY)
        if not value:
            return None
        if "private_key" not in value:
            log.warning("the stored central credential predates signed requests: enrol again")
            return None
        return Identity(
            server_url=value["server_url"],
            appliance_id=value["appliance_id"],
            farm_id=value["farm_id"],
            private_key=value["private_key"],
        )

    async def save(self, identity: Identity) -> None:
        await self.kv.put(
            _KEY,
            {
                "server_url": identity.server_url,
                "appliance_id": identity.appliance_id,
                "farm_id": identity.farm_id,
                "private_key": identity.private_key,
            },
        )
