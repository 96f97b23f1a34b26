"""HTTP client for central's sync API: enrolment, then signed, gzip-compressed requests."""

from __future__ import annotations

import asyncio
import gzip
from typing import TypeVar

import aiohttp

from appliance.errors import CentralError, EnrolmentError
from appliance.sync.errors import CentralTimeoutError
from appliance.sync.identity import (
    Identity,
    fingerprint,
    new_private_key,
    private_key_text,
    public_key_text,
)
from appliance.sync.signing import RequestSigner
from contracts import (
    ContractError,
    ContractModel,
    EnrolRequest,
    EnrolResponse,
    SyncBatchResponse,
    decode,
)

M = TypeVar("M", bound=ContractModel)

# Compressing small bodies inline costs less than a thread hop; bigger ones go to a thread.
_INLINE_GZIP_BYTES = 64 * 1024


class CentralClient:
    def __init__(self, session: aiohttp.ClientSession, *, timeout_s: float) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.signer = RequestSigner()

    async def enrol(self, server_url: str, code: str, name: str) -> Identity:
        """Make a key pair, register its public half with the code, return the identity."""
        url = f"{server_url.rstrip('/')}/api/v1/enroll"
        key = new_private_key()
        public_key = public_key_text(key)
        body = EnrolRequest(code=code, name=name, public_key=public_key)
        try:
            reply = await self.post(url, body.model_dump_json().encode(), EnrolResponse)
        except CentralError as err:
            if err.status is not None and 400 <= err.status < 500:
                raise EnrolmentError(str(err), status=err.status) from err
            raise
        if reply.key_fingerprint != fingerprint(public_key):
            raise EnrolmentError("central stored a different public key than the one sent")
        return Identity(
            server_url.rstrip("/"), reply.appliance_id, reply.farm_id, private_key_text(key)
        )

    async def send_batch(self, identity: Identity, body: bytes) -> SyncBatchResponse:
        """POST a `SyncBatchRequest` written as JSON (see `sync.batch`)."""
        url = f"{identity.server_url}/api/v1/sync/events"
        headers = self.signer.headers(identity, "POST", url, body)
        headers["Content-Encoding"] = "gzip"
        if len(body) <= _INLINE_GZIP_BYTES:
            compressed = gzip.compress(body, compresslevel=5)
        else:
            compressed = await asyncio.to_thread(gzip.compress, body, 5)
        return await self.post(url, compressed, SyncBatchResponse, headers)

    async def post(
        self, url: str, body: bytes, reply: type[M], headers: dict[str, str] | None = None
    ) -> M:
        """POST `body` and decode the JSON reply as `reply`; failures become CentralError."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        try:
            async with self.session.post(
                url, data=body, headers=sent, timeout=self.timeout
            ) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise CentralError(
                        f"central answered {resp.status}: {text[:300]}", status=resp.status
                    )
        except TimeoutError as err:
            raise CentralTimeoutError(f"central did not answer {url} in time") from err
        except aiohttp.ClientError as err:
            raise CentralError(f"cannot reach central at {url}: {err!r}") from err
        try:
            return decode(reply, text)
        except ContractError as err:
            raise CentralError(f"central sent an unexpected reply: {err}") from err
