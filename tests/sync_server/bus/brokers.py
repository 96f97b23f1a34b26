"""The three real brokers behind one interface, so one test suite runs against each.

A `BrokerCase` gives central's bus settings (connected through a `TcpProxy` the test can cut)
with names unique to the test, and opens a `Probe`: HQ's side of the bus, connected straight
to the broker (Kafka's advertised address is the proxy, so its probe goes through it too).
The probe records every raw message on the test's topics and publishes command requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import aio_pika
import nats
from aio_pika.abc import AbstractIncomingMessage
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import StreamConfig

from contracts.bus import COMMAND_REQUESTS_TOPIC
from contracts.topics import bus_topics
from sync_server.bus.jetstream import stream_subjects
from sync_server.bus.settings import (
    BusSettings,
    KafkaSettings,
    NatsSettings,
    RabbitMQSettings,
    RelaySettings,
    join_prefix,
)
from tests.sync_server.bus.proxy import TcpProxy

RABBITMQ_PORT = 5672
NATS_PORT = 4222

FAST_RELAY = RelaySettings(
    batch_size=100, poll_interval_s=0.05, retry_min_s=0.05, retry_max_s=0.5, publish_timeout_s=10
)


@dataclass(frozen=True)
class Received:
    topic: str
    """The bus topic, without the test's prefix."""
    key: str | None
    headers: dict[str, str]
    body: bytes


@dataclass
class Probe(ABC):
    received: list[Received] = field(default_factory=list)

    @abstractmethod
    async def publish_request(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Publish on `commands.requested` as an HQ system would."""

    @abstractmethod
    async def close(self) -> None: ...


class BrokerCase(ABC):
    kind: str

    def __init__(self, uid: str, proxy: TcpProxy) -> None:
        self.uid = uid
        self.proxy = proxy

    @abstractmethod
    def settings(self, *, consume_commands: bool = True) -> BusSettings: ...

    @abstractmethod
    async def open_probe(self) -> Probe:
        """A probe that records every message published on the bus from now on."""

    @abstractmethod
    async def cleanup(self) -> None:
        """Remove what the test left on the shared broker."""


# --- Kafka (tansu) ------------------------------------------------------------------------------


@dataclass
class KafkaProbe(Probe):
    consumer: AIOKafkaConsumer | None = None
    producer: AIOKafkaProducer | None = None
    prefix: str = ""
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        assert self.consumer is not None
        async for record in self.consumer:
            self.received.append(
                Received(
                    topic=record.topic.removeprefix(f"{self.prefix}."),
                    key=record.key.decode() if record.key is not None else None,
                    headers={k: v.decode() for k, v in record.headers},
                    body=record.value,
                )
            )

    async def publish_request(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        assert self.producer is not None
        topic = join_prefix(self.prefix, COMMAND_REQUESTS_TOPIC)
        raw_headers = [(k, v.encode()) for k, v in (headers or {}).items()]
        await self.producer.send_and_wait(topic, body, headers=raw_headers)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()


class KafkaCase(BrokerCase):
    kind = "kafka"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy.port}"

    def settings(self, *, consume_commands: bool = True) -> BusSettings:
        return BusSettings(
            kind="kafka",
            consume_commands=consume_commands,
            relay=FAST_RELAY,
            kafka=KafkaSettings(
                bootstrap_servers=self.bootstrap,
                topic_prefix=f"t{self.uid}",
                idempotent=False,  # tansu refuses idempotent producers
                request_timeout_s=5,
                group_id=f"central-{self.uid}",
                session_timeout_s=3,  # tansu completes a group join after half of it
            ),
        )

    async def open_probe(self) -> Probe:
        prefix = f"t{self.uid}"
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            metadata_max_age_ms=500,
        )
        await consumer.start()
        consumer.subscribe([join_prefix(prefix, t) for t in bus_topics()])
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        probe = KafkaProbe(consumer=consumer, producer=producer, prefix=prefix)
        probe.task = asyncio.create_task(probe.run())
        return probe

    async def cleanup(self) -> None:
        """Nothing: the topics are the test's own and tansu keeps them in memory only."""


# --- RabbitMQ -----------------------------------------------------------------------------------


@dataclass
class RabbitMQProbe(Probe):
    connection: aio_pika.abc.AbstractConnection | None = None
    exchange: aio_pika.abc.AbstractExchange | None = None

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self.received.append(
            Received(
                topic=message.routing_key or "",
                key=None,
                headers={k: str(v) for k, v in message.headers.items()},
                body=message.body,
            )
        )
        await message.ack()

    async def publish_request(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        assert self.exchange is not None
        message = aio_pika.Message(body, headers=dict(headers or {}))
        await self.exchange.publish(message, COMMAND_REQUESTS_TOPIC)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


class RabbitMQCase(BrokerCase):
    kind = "rabbitmq"

    def names(self) -> RabbitMQSettings:
        return RabbitMQSettings(
            url=f"amqp://guest:guest@127.0.0.1:{self.proxy.port}/",  # type: ignore[arg-type]
            exchange=f"byre.test.{self.uid}.events",
            commands_queue=f"byre.test.{self.uid}.commands",
            dead_letter_exchange=f"byre.test.{self.uid}.dead",
            dead_letter_queue=f"byre.test.{self.uid}.commands.dead",
            connect_timeout_s=2,
        )

    def settings(self, *, consume_commands: bool = True) -> BusSettings:
        return BusSettings(
            kind="rabbitmq",
            consume_commands=consume_commands,
            relay=FAST_RELAY,
            rabbitmq=self.names(),
        )

    async def open_probe(self) -> Probe:
        connection = await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{RABBITMQ_PORT}/")
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            self.names().exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "#")
        probe = RabbitMQProbe(connection=connection, exchange=exchange)
        await queue.consume(probe.on_message)
        return probe

    async def cleanup(self) -> None:
        names = self.names()
        connection = await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{RABBITMQ_PORT}/")
        async with connection:
            channel = await connection.channel()
            for queue in (names.commands_queue, names.dead_letter_queue):
                await channel.queue_delete(queue)
            for exchange in (names.exchange, names.dead_letter_exchange):
                await channel.exchange_delete(exchange)


# --- NATS JetStream -----------------------------------------------------------------------------


@dataclass
class NatsProbe(Probe):
    client: Client | None = None
    prefix: str = ""

    async def on_message(self, message: Msg) -> None:
        self.received.append(
            Received(
                topic=message.subject.removeprefix(f"{self.prefix}."),
                key=None,
                headers=dict(message.headers or {}),
                body=message.data,
            )
        )

    async def publish_request(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        assert self.client is not None
        subject = join_prefix(self.prefix, COMMAND_REQUESTS_TOPIC)
        await self.client.jetstream().publish(subject, body, headers=headers or None)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


class NatsCase(BrokerCase):
    kind = "nats"

    def names(self) -> NatsSettings:
        return NatsSettings(
            url=f"nats://127.0.0.1:{self.proxy.port}",  # type: ignore[arg-type]
            stream=f"BYRE_TEST_{self.uid}",
            subject_prefix=f"t{self.uid}",
            durable=f"central-{self.uid}",
            ack_wait_s=5,
            connect_timeout_s=2,
        )

    def settings(self, *, consume_commands: bool = True) -> BusSettings:
        return BusSettings(
            kind="nats", consume_commands=consume_commands, relay=FAST_RELAY, nats=self.names()
        )

    async def open_probe(self) -> Probe:
        names = self.names()
        client = await nats.connect(f"nats://127.0.0.1:{NATS_PORT}")
        js = client.jetstream()
        await js.add_stream(
            StreamConfig(
                name=names.stream,
                subjects=stream_subjects(names),
                duplicate_window=names.duplicate_window_s,
            )
        )
        probe = NatsProbe(client=client, prefix=names.subject_prefix)
        await js.subscribe(
            join_prefix(names.subject_prefix, ">"),
            stream=names.stream,
            ordered_consumer=True,
            cb=probe.on_message,
        )
        return probe

    async def cleanup(self) -> None:
        client = await nats.connect(f"nats://127.0.0.1:{NATS_PORT}")
        try:
            await client.jetstream().delete_stream(self.names().stream)
        finally:
            await client.close()
