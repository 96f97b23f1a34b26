"""The appliance's end of one worker's connection: requests in flight, matched by id."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from appliance.inference.errors import (
    DeadlineExceeded,
    InferenceError,
    InferFailed,
    RunnerUnavailable,
)
from appliance.inference.protocol import (
    DetectRequest,
    ErrorMessage,
    Heartbeat,
    ResultMessage,
    StatusMessage,
    WorkerMessage,
    frame,
    parse_worker_message,
    read_body,
)

log = logging.getLogger(__name__)


@dataclass
class InFlight:
    request: DetectRequest
    future: asyncio.Future[ResultMessage]
    release: Callable[[], None]  # frees the frame slot: only once the worker is done with it


class WorkerLink:
    """Requests go out in order and the worker answers them in order, so the oldest request
    in flight is the one the worker is on: `overdue()` uses that to spot a hang."""

    def __init__(
        self, plugin: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.plugin = plugin
        self.reader = reader
        self.writer = writer
        self.in_flight: dict[int, InFlight] = {}
        self.last_heard: float | None = None  # the worker has not spoken yet: it is starting
        self.head_since = time.monotonic()  # when the oldest request in flight became the oldest
        self.dropped = 0
        self.closed = False

    def submit(
        self, request: DetectRequest, release: Callable[[], None]
    ) -> asyncio.Future[ResultMessage]:
        if self.closed or self.writer.is_closing() or self.reader.at_eof():
            raise RunnerUnavailable(f"plugin {self.plugin}: worker connection is closed")
        future: asyncio.Future[ResultMessage] = asyncio.get_running_loop().create_future()
        if not self.in_flight:
            self.head_since = time.monotonic()
        self.in_flight[request.id] = InFlight(request, future, release)
        self.writer.write(frame(request))
        return future

    def head(self) -> InFlight | None:
        return next(iter(self.in_flight.values()), None)

    def overdue(self, now: float, margin_s: float) -> InFlight | None:
        """The request the worker has been on for longer than its deadline plus `margin_s`."""
        head = self.head()
        if head is not None and now > max(head.request.deadline, self.head_since) + margin_s:
            return head
        return None

    async def read(self, on_status: Callable[[StatusMessage], None]) -> None:
        """Handle messages until the worker closes the connection."""
        try:
            while (body := await read_body(self.reader)) is not None:
                self.last_heard = time.monotonic()
                self._handle(parse_worker_message(body), on_status)
        finally:
            self.closed = True  # no new requests; those in flight wait for the worker's end

    def _handle(self, message: WorkerMessage, on_status: Callable[[StatusMessage], None]) -> None:
        if isinstance(message, Heartbeat):
            return
        if isinstance(message, StatusMessage):
            on_status(message)
            return
        entry = self.in_flight.pop(message.id, None)
        if entry is None:
            log.warning("plugin %s: answer to unknown request %d", self.plugin, message.id)
            return
        self.head_since = time.monotonic()
        entry.release()
        if isinstance(message, ResultMessage):
            _settle(entry.future, result=message)
            return
        if message.error == "deadline":
            self.dropped += 1
        _settle(entry.future, error=_error(self.plugin, entry.request, message))

    def fail_all(self, error: InferenceError) -> None:
        """The worker is gone (dead, so no slot is read any more): fail and free everything."""
        self.closed = True
        entries, self.in_flight = list(self.in_flight.values()), {}
        for entry in entries:
            entry.release()
            _settle(entry.future, error=error)

    async def close(self) -> None:
        self.closed = True
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError as err:
            log.debug("plugin %s: closing the connection: %r", self.plugin, err)


def _error(plugin: str, request: DetectRequest, message: ErrorMessage) -> InferenceError:
    where = f"plugin {plugin}, camera {request.camera}"
    if message.error == "deadline":
        return DeadlineExceeded(f"{where}: worker {message.detail}")
    if message.error == "infer_failed":
        return InferFailed(f"{where}: infer raised {message.detail}")
    return InferFailed(f"{where}: worker refused the request: {message.detail}")


def _settle(
    future: asyncio.Future[ResultMessage],
    *,
    result: ResultMessage | None = None,
    error: InferenceError | None = None,
) -> None:
    if future.done():  # the caller gave up (deadline) and cancelled it
        return
    if error is not None:
        future.set_exception(error)
    elif result is not None:
        future.set_result(result)
