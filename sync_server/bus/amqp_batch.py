"""A batch of AMQP 0-9-1 publishes written as one frame buffer, confirms awaited together.

aio-pika/aiormq marshal every publish through pamqp's generic encoder, as its own task and
its own socket write; for the relay's batches that cost more CPU than everything else in
central. Here the `basic.publish` + content header + body frames of a whole batch are
encoded directly (the few properties we send) and handed to the connection's writer as one
`ChannelFrame`; each message still gets its own delivery tag and confirmation future in the
channel, so the broker's (multiple) acks, nacks and a closed channel resolve them as for
`basic_publish`. Relies on aiormq's public channel attributes `lock`, `delivery_tag`,
`confirmations`, `write_queue`, `create_future` and `ChannelFrame` (aiormq 6 and 7).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiormq
from aiormq.abc import ChannelFrame

FRAME_METHOD = 1
FRAME_HEADER = 2
FRAME_BODY = 3
FRAME_END = b"\xce"
BASIC_CLASS = 60
BASIC_PUBLISH = 40
FRAME_OVERHEAD = 8  # type, channel, size and end octet of a frame

# Basic property flags (AMQP 0-9-1, highest bit first), only those we send.
_CONTENT_TYPE = 1 << 15
_HEADERS = 1 << 13
_DELIVERY_MODE = 1 << 12
_MESSAGE_ID = 1 << 7
_TYPE = 1 << 5
_APP_ID = 1 << 3
PERSISTENT = 2


@dataclass(frozen=True)
class Publish:
    """One persistent message for a routing key, with string headers."""

    routing_key: str
    body: bytes
    headers: Mapping[str, str]
    message_id: str
    message_type: str


def _shortstr(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise ValueError(f"AMQP short string over 255 bytes: {text[:40]!r}...")
    return bytes((len(raw),)) + raw


def _table(values: Mapping[str, str]) -> bytes:
    parts = []
    for key, value in values.items():
        raw = value.encode()
        parts.append(_shortstr(key) + b"S" + struct.pack(">I", len(raw)) + raw)
    body = b"".join(parts)
    return struct.pack(">I", len(body)) + body


def _frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + FRAME_END


def encode_publish(
    channel: int,
    exchange: str,
    message: Publish,
    *,
    content_type: str,
    app_id: str,
    frame_max: int,
) -> bytes:
    """The frames of one `basic.publish` (mandatory and immediate off), persistent."""
    method = (
        struct.pack(">HHH", BASIC_CLASS, BASIC_PUBLISH, 0)
        + _shortstr(exchange)
        + _shortstr(message.routing_key)
        + b"\x00"
    )
    flags = _CONTENT_TYPE | _HEADERS | _DELIVERY_MODE | _MESSAGE_ID | _TYPE | _APP_ID
    properties = (
        _shortstr(content_type)
        + _table(message.headers)
        + bytes((PERSISTENT,))
        + _shortstr(message.message_id)
        + _shortstr(message.message_type)
        + _shortstr(app_id)
    )
    header = struct.pack(">HHQH", BASIC_CLASS, 0, len(message.body), flags) + properties
    frames = [_frame(FRAME_METHOD, channel, method), _frame(FRAME_HEADER, channel, header)]
    step = frame_max - FRAME_OVERHEAD
    body = message.body
    for start in range(0, len(body), step):
        frames.append(_frame(FRAME_BODY, channel, body[start : start + step]))
    return b"".join(frames)


async def publish_confirmed(
    channel: aiormq.Channel,
    exchange: str,
    messages: Sequence[Publish],
    *,
    content_type: str,
    app_id: str,
) -> list[BaseException]:
    """Publish in order on a confirm-mode channel; returns the failures (empty: all acked).

    Waits for every confirmation; the caller bounds the wait (a lost connection fails the
    pending confirmations through aiormq's future store).
    """
    frame_max = channel.max_content_size + FRAME_OVERHEAD
    payload = b"".join(
        encode_publish(
            channel.number,
            exchange,
            message,
            content_type=content_type,
            app_id=app_id,
            frame_max=frame_max,
        )
        for message in messages
    )
    confirmations: list[asyncio.Future[object]] = []
    async with channel.lock:
        for _ in messages:
            channel.delivery_tag += 1
            future = channel.create_future()
            channel.confirmations[channel.delivery_tag] = future
            confirmations.append(future)
        written = channel.create_future()
        await channel.write_queue.put(
            ChannelFrame(payload=payload, should_close=False, drain_future=written)
        )
        await written
    results = await asyncio.gather(*confirmations, return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]
