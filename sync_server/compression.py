"""Compressed request bodies: appliances may send `Content-Encoding: gzip`.

The body is inflated before routing (so handlers and signature checks see the plain body)
with a cap on the inflated size; a body over the cap gets 413, whatever its compressed size.
"""

from __future__ import annotations

import asyncio
import zlib

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 32 * 1024 * 1024


class BodyTooLargeError(Exception):
    """The inflated body is bigger than allowed."""


class RequestDecompression:
    """Pure ASGI middleware inflating gzip request bodies up to `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = Headers(scope=scope).get("content-encoding", "identity").strip().lower()
        if encoding == "identity":
            await self.app(scope, receive, send)
            return
        if encoding != "gzip":
            await _reply(415, f"unsupported content encoding {encoding!r}", scope, receive, send)
            return
        try:
            raw = await self._read(receive)
            body = await asyncio.to_thread(gunzip, raw, self.max_bytes)
        except BodyTooLargeError:
            await _reply(413, f"body over {self.max_bytes} bytes", scope, receive, send)
            return
        except (zlib.error, EOFError) as err:
            await _reply(400, f"the gzip body is corrupt: {err}", scope, receive, send)
            return
        headers = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        delivered = False

        async def inflated() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app({**scope, "headers": headers}, inflated, send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise EOFError("client disconnected")
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def gunzip(raw: bytes, max_bytes: int) -> bytes:
    """Inflate one gzip member, refusing to produce more than `max_bytes`."""
    inflater = zlib.decompressobj(wbits=31)
    body = inflater.decompress(raw, max_bytes + 1)
    if len(body) > max_bytes or inflater.unconsumed_tail:
        raise BodyTooLargeError
    if not inflater.eof:
        raise EOFError("the gzip stream is truncated")
    return body


async def _reply(status: int, detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
