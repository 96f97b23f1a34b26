"""Messages on a worker's Unix socket: a 4-byte big-endian length, then one JSON object.

Appliance -> worker: `DetectRequest` (the frame itself stays in shared memory).
Worker -> appliance: `StatusMessage`, `Heartbeat`, `ResultMessage`, `ErrorMessage`.
Closing the connection tells the worker to exit.

Deadlines are `time.monotonic()` seconds: CLOCK_MONOTONIC is one clock for every process on
the host, so the worker can compare them with its own clock.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from appliance.inference.errors import ProtocolError
from contracts.vision import Detection

HEADER = struct.Struct(">I")
MAX_MESSAGE = 4 * 1024 * 1024


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectRequest(_Message):
    t: Literal["detect"] = "detect"
    id: int
    camera: str
    plugin: str
    shm: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,200}$")
    slot: int = Field(ge=0)
    offset: int = Field(ge=0)
    shape: tuple[int, int, Literal[3]]
    dtype: Literal["uint8"] = "uint8"
    deadline: float


class FrameFitMessage(_Message):
    """The plugin's first resize (see `plugins.base.FrameFit`): the sender may do it instead."""

    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)
    resize: Literal["stretch", "letterbox"]


class StatusMessage(_Message):
    t: Literal["status"] = "status"
    state: Literal["loading", "ready", "failed"]
    reason: str = ""
    pid: int
    fit: FrameFitMessage | None = None  # with `ready`: frames may be sent pre-resized


class Heartbeat(_Message):
    t: Literal["hb"] = "hb"


class ResultMessage(_Message):
    t: Literal["result"] = "result"
    id: int
    detections: list[Detection]
    infer_ms: float


ErrorKind = Literal["deadline", "infer_failed", "bad_request"]


class ErrorMessage(_Message):
    t: Literal["error"] = "error"
    id: int
    error: ErrorKind
    detail: str


WorkerMessage = Annotated[
    StatusMessage | Heartbeat | ResultMessage | ErrorMessage, Field(discriminator="t")
]
_WORKER_MESSAGE: TypeAdapter[WorkerMessage] = TypeAdapter(WorkerMessage)


def frame(message: _Message) -> bytes:
    """The bytes of one message on the wire."""
    body = message.model_dump_json().encode()
    return HEADER.pack(len(body)) + body


def parse_worker_message(body: bytes) -> WorkerMessage:
    try:
        return _WORKER_MESSAGE.validate_json(body)
    except ValidationError as err:
        raise ProtocolError(f"bad message from worker: {err}") from err


def _check_length(length: int) -> None:
    if length > MAX_MESSAGE:
        raise ProtocolError(f"message of {length} bytes exceeds {MAX_MESSAGE}")


async def read_body(reader: asyncio.StreamReader) -> bytes | None:
    """The next message body, or None when the peer closed the connection."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as err:
        if err.partial:
            raise ProtocolError("connection closed inside a message header") from err
        return None
    (length,) = HEADER.unpack(header)
    _check_length(length)
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as err:
        raise ProtocolError("connection closed inside a message") from err


def recv_body(sock: socket.socket) -> bytes | None:
    """Blocking twin of `read_body` for the worker."""
    header = _recv_exactly(sock, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    _check_length(length)
    body = _recv_exactly(sock, length)
    if body is None:
        raise ProtocolError("connection closed inside a message")
    return body


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            if chunks:
                raise ProtocolError("connection closed inside a message")
            return None
        chunks += chunk
    return bytes(chunks)
