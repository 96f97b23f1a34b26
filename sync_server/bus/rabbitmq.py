"""RabbitMQ through aio-pika: a durable topic exchange, routing key = bus topic.

Messages are persistent and published with confirms: a batch is written at once and its
confirms awaited together (`amqp_batch`). After any failure the connection is dropped and
opened afresh on the next publish. Command requests come from a durable queue central's
replicas share; rejected ones are dead-lettered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

from contracts.bus import COMMAND_REQUESTS_TOPIC
from contracts.topics import BUS_FAMILIES
from sync_server.bus.amqp_batch import Publish, publish_confirmed
from sync_server.bus.backoff import Backoff
from sync_server.bus.base import BusPublisher, CommandSource
from sync_server.bus.errors import BusError
from sync_server.bus.inbox import CommandInbox, Outcome
from sync_server.bus.message import BusMessage
from sync_server.bus.settings import RabbitMQSettings, RelaySettings

log = logging.getLogger(__name__)

APP_ID = "byre-central"
CONTENT_TYPE = "application/json"
# How a lost or refused connection surfaces from aio-pika.
_FAILURES = (AMQPError, ChannelInvalidStateError, OSError, TimeoutError)


async def _connect(settings: RabbitMQSettings) -> AbstractConnection:
    try:
        return await aio_pika.connect(
            settings.url.get_secret_value(), timeout=settings.connect_timeout_s
        )
    except _FAILURES as err:
        raise BusError(f"rabbitmq: cannot connect: {err!r}") from err


async def _declare_exchange(
    channel: AbstractChannel, settings: RabbitMQSettings
) -> AbstractExchange:
    exchange = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    if settings.events_queue:
        queue = await channel.declare_queue(settings.events_queue, durable=True)
        for family in BUS_FAMILIES:
            await queue.bind(exchange, f"{family}.#")
    return exchange


class RabbitMQPublisher(BusPublisher):
    def __init__(self, settings: RabbitMQSettings) -> None:
        self.settings = settings
        self._connection: AbstractConnection | None = None
        self._channel: aiormq.Channel | None = None

    async def publish(self, messages: Sequence[BusMessage]) -> None:
        channel = await self._opened()
        try:
            failed = await publish_confirmed(
                channel,
                self.settings.exchange,
                [_publish(m) for m in messages],
                content_type=CONTENT_TYPE,
                app_id=APP_ID,
            )
        except Exception as err:  # noqa: BLE001 - a closing channel fails with its close reason
            failed = [err]
        if failed:
            await self.close()
            raise BusError(
                f"rabbitmq: {len(failed)} of {len(messages)} not confirmed: {failed[0]!r}"
            )

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except _FAILURES as err:
                log.debug("rabbitmq: closing a broken connection: %r", err)

    async def _opened(self) -> aiormq.Channel:
        if self._channel is not None and not self._channel.is_closed:
            return self._channel
        await self.close()
        self._connection = await _connect(self.settings)
        try:
            channel = await self._connection.channel(publisher_confirms=True)
            await _declare_exchange(channel, self.settings)
            self._channel = cast(aiormq.Channel, await channel.get_underlay_channel())
        except _FAILURES as err:
            await self.close()
            raise BusError(f"rabbitmq: cannot declare exchange: {err!r}") from err
        return self._channel


def _publish(m: BusMessage) -> Publish:
    return Publish(
        routing_key=m.topic,
        body=m.body,
        headers=m.headers(),
        message_id=str(m.event_id),
        message_type=m.event_type,
    )


class RabbitMQCommandSource(CommandSource):
    def __init__(self, settings: RabbitMQSettings, relay: RelaySettings) -> None:
        self.settings = settings
        self.backoff = Backoff(
            "rabbitmq command consumer", relay.retry_min_s, relay.retry_max_s, log
        )

    async def run(self, inbox: CommandInbox) -> None:
        while True:
            try:
                await self._consume(inbox)
            except (BusError, *_FAILURES) as err:
                await self.backoff.failed(err)

    async def _consume(self, inbox: CommandInbox) -> None:
        connection = await _connect(self.settings)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.settings.prefetch)
            queue = await self._declare(channel)
            self.backoff.succeeded()
            self.connected = True
            async with queue.iterator() as messages:
                async for message in messages:
                    await _settle(message, await inbox.handle(message.body, _headers(message)))
            raise BusError("rabbitmq: the connection was closed")
        finally:
            self.connected = False
            try:
                await connection.close()
            except _FAILURES as err:
                log.debug("rabbitmq: closing a broken connection: %r", err)

    async def _declare(self, channel: AbstractChannel) -> AbstractQueue:
        s = self.settings
        exchange = await _declare_exchange(channel, s)
        dead = await channel.declare_exchange(
            s.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        dead_queue = await channel.declare_queue(s.dead_letter_queue, durable=True)
        await dead_queue.bind(dead)
        queue = await channel.declare_queue(
            s.commands_queue,
            durable=True,
            arguments={"x-dead-letter-exchange": s.dead_letter_exchange},
        )
        await queue.bind(exchange, COMMAND_REQUESTS_TOPIC)
        return queue


async def _settle(message: AbstractIncomingMessage, outcome: Outcome) -> None:
    if outcome is Outcome.REJECTED:
        await message.reject(requeue=False)  # to the dead-letter exchange
    else:
        await message.ack()


def _headers(message: AbstractIncomingMessage) -> dict[str, str]:
    return {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in message.headers.items()}
