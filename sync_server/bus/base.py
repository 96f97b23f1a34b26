"""The two interfaces every bus implements: publishing events, consuming command requests."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from sync_server.bus.inbox import CommandInbox
from sync_server.bus.message import BusMessage


class BusPublisher(ABC):
    @abstractmethod
    async def publish(self, messages: Sequence[BusMessage]) -> None:
        """Publish every message; return only once the broker confirmed them all.

        Connects on first use and again after a failure. Raises `BusError` when any message
        is not confirmed; some may have been published then, so a retry can duplicate them
        (consumers deduplicate by event id).
        """

    @abstractmethod
    async def close(self) -> None:
        """Release the connection; `publish` may connect again afterwards."""


class CommandSource(ABC):
    connected = False
    """True while subscribed (queue, consumer group or durable consumer in place)."""

    @abstractmethod
    async def run(self, inbox: CommandInbox) -> None:
        """Consume HQ's command requests forever, handing each to `inbox`.

        A message is acknowledged only after the inbox has stored or rejected it;
        rejected ones are dead-lettered or dropped, never redelivered. Reconnects with
        back-off; returns only by cancellation.
        """
