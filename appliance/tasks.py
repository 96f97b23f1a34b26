"""Background loops that live exactly as long as a block of code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def background(coro: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """Run a loop for the lifetime of the block; cancel and await it on exit."""
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(_report_crash)
    try:
        yield
    finally:
        task.cancel()
        while not task.done():  # a library may have swallowed the first cancellation
            await asyncio.wait([task], timeout=1.0)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %r", task.get_name(), task.exception())
