"""HTTP client for central's sync API."""

from __future__ import annotations

from typing import TypeVar

import aiohttp

from appliance.errors import CentralError, EnrolmentError
from appliance.sync.identity import Identity
from contracts import (
    ContractError,
    ContractModel,
    EnrolRequest,
    EnrolResponse,
    SyncBatchRequest,
    SyncBatchResponse,
    decode,
)

M = TypeVar("M", bound=ContractModel)


class CentralClient:
    def __init__(self, session: aiohttp.ClientSession, *, timeout_s: float) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def enrol(self, server_url: str, code: str, name: str) -> Identity:
        url = f"{server_url.rstrip('/')}/api/v1/enroll"
        body = EnrolRequest(code=code, name=name)
        try:
            reply = await self._post(url, body, EnrolResponse, token=None)
        except CentralError as err:
            if err.status is not None and 400 <= err.status < 500:
                raise EnrolmentError(str(err), status=err.status) from err
            raise
        return Identity(server_url.rstrip("/"), reply.appliance_id, reply.farm_id, reply.token)

    async def send_batch(self, identity: Identity, batch: SyncBatchRequest) -> SyncBatchResponse:
        url = f"{identity.server_url}/api/v1/sync/events"
        return await self._post(url, batch, SyncBatchResponse, token=identity.token)

    async def _post(self, url: str, body: ContractModel, reply: type[M], *, token: str | None) -> M:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self.session.post(
                url, data=body.model_dump_json(), headers=headers, timeout=self.timeout
            ) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise CentralError(
                        f"central answered {resp.status}: {text[:300]}", status=resp.status
                    )
        except (aiohttp.ClientError, TimeoutError) as err:
            raise CentralError(f"cannot reach central at {url}: {err!r}") from err
        try:
            return decode(reply, text)
        except ContractError as err:
            raise CentralError(f"central sent an unexpected reply: {err}") from err
