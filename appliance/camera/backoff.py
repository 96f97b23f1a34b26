"""Exponential backoff with jitter, for reopening sources."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `initial` up to `maximum`, each scaled by 1 ± `jitter`."""

    def __init__(self, initial: float, maximum: float, jitter: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._attempt = 0

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * 2.0 ** min(self._attempt, 30))
        self._attempt += 1
        return base * random.uniform(1.0 - self.jitter, 1.0 + self.jitter)

    def reset(self) -> None:
        self._attempt = 0
