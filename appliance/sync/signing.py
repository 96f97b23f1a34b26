"""Signing requests to central with the appliance's Ed25519 key."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

from appliance.sync.identity import Identity
from contracts.sync import APPLIANCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_message


class RequestSigner:
    """Makes the signature headers; timestamps (ms) strictly increase, so two otherwise
    identical requests never share a signature (central would take the second as a replay)."""

    def __init__(self) -> None:
        self._last_ms = 0

    def headers(self, identity: Identity, method: str, url: str, body: bytes) -> dict[str, str]:
        now_ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = now_ms
        target = urlsplit(url)
        path = target.path + (f"?{target.query}" if target.query else "")
        message = signed_message(method, path, str(now_ms), body)
        signature = identity.signing_key().sign(message)
        return {
            APPLIANCE_HEADER: identity.appliance_id,
            TIMESTAMP_HEADER: str(now_ms),
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        }
