"""The appliance's identity at central, kept in the local store after enrolment."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.store.kv import KeyValue

_KEY = "central.identity"


@dataclass(frozen=True)
class Identity:
    server_url: str
    appliance_id: str
    farm_id: str
    token: str

    def __repr__(self) -> str:  # never print the credential
        return f"Identity(server_url={self.server_url!r}, appliance_id={self.appliance_id!r})"


class IdentityStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def load(self) -> Identity | None:
        value = await self.kv.get(_KEY)
        return Identity(**value) if value else None

    async def save(self, identity: Identity) -> None:
        await self.kv.put(
            _KEY,
            {
                "server_url": identity.server_url,
                "appliance_id": identity.appliance_id,
                "farm_id": identity.farm_id,
                "token": identity.token,
            },
        )
