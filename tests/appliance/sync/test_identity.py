"""The appliance's credential in its own database."""

from __future__ import annotations

from appliance.store import Database, EventStore
from appliance.store.kv import KeyValue
from appliance.sync.identity import (
    Identity,
    IdentityStore,
    fingerprint,
    new_private_key,
    private_key_text,
    public_key_text,
)


async def test_identity_survives_a_round_trip_and_signs_with_the_same_key(
    store: tuple[Database, EventStore],
) -> None:
    db, _ = store
    key = new_private_key()
    saved = Identity("http://central", "ap-1", "farm-1", private_key_text(key))
    await IdentityStore(KeyValue(db)).save(saved)

    loaded = await IdentityStore(KeyValue(db)).load()

    assert loaded == saved
    assert loaded is not None
    assert fingerprint(public_key_text(loaded.signing_key())) == fingerprint(public_key_text(key))
    assert private_key_text(key) not in repr(loaded)


async def test_bearer_token_credential_from_before_signing_means_not_enrolled(
    store: tuple[Database, EventStore],
) -> None:
    db, _ = store
    legacy = {"server_url": "http://c", "appliance_id": "ap-1", "farm_id": "f", "token": "t"}
    await KeyValue(db).put("central.identity", legacy)

    assert await IdentityStore(KeyValue(db)).load() is None
