"""Sign-in throttling: at most N failed attempts per username and per address in a window.

Kept in memory: a restart forgets it, which costs an attacker a restart they cannot cause.
An attempt counts as failed from the moment it starts, so parallel guesses cannot slip past
the limit while their passwords are being checked; a success forgets the failures of its
username and address (the per-username limit still caps guesses at any one account).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from appliance.auth.errors import RateLimitedError

MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(
        self,
        max_failures: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def begin(self, keys: Sequence[str]) -> None:
        """Start an attempt; raise `RateLimitedError` if any key is over the limit."""
        now = self._clock()
        wait = max((self._wait(key, now) for key in keys), default=0.0)
        if wait > 0:
            raise RateLimitedError(wait)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, keys: Sequence[str]) -> None:
        """The attempt was right: forget every failure of its username and address."""
        for key in keys:
            self._failures.pop(key, None)

    def _wait(self, key: str, now: float) -> float:
        stamps = self._failures.get(key)
        if not stamps:
            return 0.0
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        if len(stamps) < self.max_failures:
            return 0.0
        return stamps[-self.max_failures] + self.window_s - now
