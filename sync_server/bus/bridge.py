"""The bus bridge of one central process: the outbox relay and the command consumer.

`running()` starts both as tasks for the lifetime of the app and cancels and awaits them on
exit. With `kind = "none"` nothing runs: the outbox keeps growing until a bus is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from sync_server.bus.base import BusPublisher, CommandSource
from sync_server.bus.inbox import CommandInbox
from sync_server.bus.jetstream import NatsCommandSource, NatsPublisher
from sync_server.bus.kafka import KafkaCommandSource, KafkaPublisher
from sync_server.bus.rabbitmq import RabbitMQCommandSource, RabbitMQPublisher
from sync_server.bus.relay import Relay
from sync_server.bus.settings import BusSettings

log = logging.getLogger(__name__)


def make_publisher(settings: BusSettings) -> BusPublisher | None:
    match settings.kind:
        case "kafka":
            return KafkaPublisher(settings.kafka)
        case "rabbitmq":
            return RabbitMQPublisher(settings.rabbitmq)
        case "nats":
            return NatsPublisher(settings.nats, settings.relay)
        case "none":
            return None


def make_command_source(settings: BusSettings) -> CommandSource | None:
    match settings.kind:
        case "kafka":
            return KafkaCommandSource(settings.kafka, settings.relay)
        case "rabbitmq":
            return RabbitMQCommandSource(settings.rabbitmq, settings.relay)
        case "nats":
            return NatsCommandSource(settings.nats, settings.relay)
        case "none":
            return None


class BusBridge:
    def __init__(
        self, settings: BusSettings, sessions: async_sessionmaker[AsyncSession], dialect: str
    ) -> None:
        self.settings = settings
        self.publisher = make_publisher(settings)
        self.relay = (
            Relay(sessions, self.publisher, settings.relay, lock_rows=dialect == "postgresql")
            if self.publisher is not None
            else None
        )
        self.source = make_command_source(settings) if settings.consume_commands else None
        self.inbox = CommandInbox(sessions, settings.relay.retry_min_s, settings.relay.retry_max_s)
        self._tasks: list[asyncio.Task[None]] = []

    def outbox_changed(self) -> None:
        """Rows were committed to the outbox: the relay need not wait for its next poll."""
        if self.relay is not None:
            self.relay.wake()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[BusBridge]:
        if self.relay is not None:
            self._start(self.relay.run(), "bus relay")
        if self.source is not None:
            self._start(self.source.run(self.inbox), "bus command consumer")
        log.info(
            "bus bridge: %s%s",
            self.settings.kind,
            " (outbox kept, not relayed)" if self.relay is None else "",
        )
        try:
            yield self
        finally:
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # crashes were logged
            if self.publisher is not None:
                await self.publisher.close()

    def _start(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %r", task.get_name(), task.exception())
