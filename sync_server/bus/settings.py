"""Settings of the bus bridge: which bus, how to reach it, and how the relay paces itself."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# Dot-separated tokens: valid in Kafka topic names and NATS subjects alike.
PREFIX_PATTERN = r"^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RelaySettings(_Section):
    """How the relay drains central's bus outbox."""

    batch_size: int = Field(default=500, ge=1, le=10_000, description="Rows published per batch.")
    poll_interval_s: float = Field(
        default=0.5, gt=0, description="Pause before looking for new rows when the outbox is empty."
    )
    retry_min_s: float = Field(default=0.5, gt=0, description="First back-off after a failure.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest back-off (jitter ±50%).")
    publish_timeout_s: float = Field(
        default=30.0, gt=0, description="A batch not confirmed by the broker in this time fails."
    )
    keep_published_s: float = Field(
        default=7 * 86_400, ge=0, description="Published rows are deleted after this many seconds."
    )

    @model_validator(mode="after")
    def _retry_range(self) -> RelaySettings:
        if self.retry_min_s > self.retry_max_s:
            raise ValueError("retry_min_s must not exceed retry_max_s")
        return self


class KafkaSettings(_Section):
    """Kafka (aiokafka): topic = bus topic, key = farm id, acks=all."""

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", min_length=1, description="Comma-separated host:port list."
    )
    client_id: str = Field(default="byre-central", min_length=1, description="Client id.")
    topic_prefix: str = Field(
        default="",
        pattern=PREFIX_PATTERN,
        description="Prepended with a dot to every topic (`byre` gives `byre.incident.opened`).",
    )
    idempotent: bool = Field(
        default=True,
        description="Idempotent producer; keep on for Kafka, turn off for brokers that lack "
        "it (tansu).",
    )
    request_timeout_s: float = Field(
        default=30.0, gt=0, description="How long one produce or fetch request may take."
    )
    group_id: str = Field(
        default="byre-central",
        min_length=1,
        description="Consumer group of the command consumer; central's replicas share it.",
    )
    session_timeout_s: float = Field(
        default=10.0,
        ge=1,
        description="A command consumer silent this long leaves the group (heartbeats every "
        "fifth of it); joining takes some brokers about half of it.",
    )


class RabbitMQSettings(_Section):
    """RabbitMQ (aio-pika): a durable topic exchange, routing key = bus topic."""

    url: SecretStr = Field(
        default=SecretStr("amqp://guest:guest@127.0.0.1:5672/"),
        description="AMQP URL with credentials (secret).",
    )
    exchange: str = Field(
        default="byre.events", min_length=1, description="Durable topic exchange events go to."
    )
    events_queue: str | None = Field(
        default=None,
        description="A durable queue central declares and binds to every bus topic, so events "
        "are kept before HQ binds its own queues (none when empty).",
    )
    commands_queue: str = Field(
        default="byre.central.commands",
        min_length=1,
        description="Durable queue central's replicas share for HQ's command requests.",
    )
    dead_letter_exchange: str = Field(
        default="byre.events.dead",
        min_length=1,
        description="Fanout exchange rejected command requests are dead-lettered to.",
    )
    dead_letter_queue: str = Field(
        default="byre.central.commands.dead",
        min_length=1,
        description="Durable queue that keeps dead-lettered command requests for inspection.",
    )
    prefetch: int = Field(default=50, ge=1, description="Unacknowledged requests per consumer.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Connection timeout.")


class NatsSettings(_Section):
    """NATS JetStream (nats-py): one stream over the bus subjects; event id as Nats-Msg-Id."""

    url: SecretStr = Field(
        default=SecretStr("nats://127.0.0.1:4222"),
        description="Server URL, with credentials if any (secret).",
    )
    stream: str = Field(
        default="BYRE_EVENTS",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="JetStream stream covering `incident.>`, `telemetry.>` and `commands.>`.",
    )
    subject_prefix: str = Field(
        default="",
        pattern=PREFIX_PATTERN,
        description="Prepended with a dot to every subject, to keep clear of other streams "
        "on a shared server.",
    )
    durable: str = Field(
        default="byre-central-commands",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Durable pull consumer central's replicas share for command requests.",
    )
    duplicate_window_s: float = Field(
        default=120.0, gt=0, description="How long the server remembers Nats-Msg-Id for dedupe."
    )
    ack_wait_s: float = Field(
        default=30.0, gt=0, description="A request not acknowledged in this time is redelivered."
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Connection timeout.")


class BusSettings(_Section):
    """The bus central bridges events to and takes HQ's command requests from."""

    kind: Literal["none", "kafka", "rabbitmq", "nats"] = Field(
        default="none",
        description="`none` keeps the outbox without relaying it (switch later to publish it).",
    )
    consume_commands: bool = Field(
        default=True, description="Take HQ's command requests from `commands.requested`."
    )
    relay: RelaySettings = Field(default_factory=RelaySettings, description="Outbox relay.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="When kind=kafka.")
    rabbitmq: RabbitMQSettings = Field(
        default_factory=RabbitMQSettings, description="When kind=rabbitmq."
    )
    nats: NatsSettings = Field(default_factory=NatsSettings, description="When kind=nats.")


def join_prefix(prefix: str, topic: str) -> str:
    """`prefix.topic`, or the topic alone without a prefix."""
    return f"{prefix}.{topic}" if prefix else topic
