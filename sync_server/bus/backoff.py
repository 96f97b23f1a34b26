"""Back-off with jitter for background loops, logging once on failure and once on recovery."""

from __future__ import annotations

import asyncio
import logging
import random


class Backoff:
    def __init__(self, what: str, min_s: float, max_s: float, log: logging.Logger) -> None:
        self.what = what
        self.min_s = min_s
        self.max_s = max_s
        self.log = log
        self.failures = 0
        self.last_error: str | None = None
        self._delay = min_s

    async def failed(self, err: BaseException) -> None:
        """Note a failure (logged only when it starts an outage), then sleep with jitter."""
        if self.last_error is None:
            self.log.warning("%s failed, will retry: %s", self.what, _describe(err))
        self.failures += 1
        self.last_error = _describe(err)
        await asyncio.sleep(self._delay * random.uniform(0.5, 1.5))
        self._delay = min(self._delay * 2, self.max_s)

    def succeeded(self) -> None:
        if self.last_error is not None:
            self.log.info("%s recovered", self.what)
        self.last_error = None
        self._delay = self.min_s


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
