"""HMAC-signed object URLs of the local store, scoped to method, key and expiry.

`/objects/{key}?method=PUT&expires=UNIX_S&sig=HEX` where `sig` is HMAC-SHA256 over
`METHOD\nKEY\nEXPIRES` with central's URL secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from sync_server.media.errors import UrlRefusedError

OBJECTS_PATH = "/objects"
METHODS = ("GET", "PUT")


def signature(secret: bytes, method: str, key: str, expires: int) -> str:
    message = f"{method}\n{key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_url(secret: bytes, base_url: str, method: str, key: str, expires: int) -> str:
    query = urlencode(
        {"method": method, "expires": expires, "sig": signature(secret, method, key, expires)}
    )
    return f"{base_url.rstrip('/')}{OBJECTS_PATH}/{quote(key)}?{query}"


def verify(
    secret: bytes,
    *,
    request_method: str,
    key: str,
    method: str | None,
    expires: str | None,
    sig: str | None,
    now: float | None = None,
) -> None:
    """Raise `UrlRefusedError` naming the reason unless the URL allows this request now."""
    if not (method and expires and sig):
        raise UrlRefusedError("the URL is not signed (method, expires and sig are required)")
    if not expires.isdigit() or len(expires) > 12:
        raise UrlRefusedError("the URL's expiry is not a Unix time")
    expected = signature(secret, method, key, int(expires))
    if not hmac.compare_digest(expected, sig.lower()):
        raise UrlRefusedError("the URL signature does not match (tampered or for another key)")
    if method != request_method.upper():
        raise UrlRefusedError(f"the URL allows {method}, not {request_method.upper()}")
    if int(expires) < (time.time() if now is None else now):
        raise UrlRefusedError("the URL has expired")
