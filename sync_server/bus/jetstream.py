"""NATS JetStream through nats-py: subject = [prefix.]bus topic, in one stream central manages.

The stream covers `incident.>`, `telemetry.>` and `commands.>` (under the optional subject
prefix, so it can live beside other streams on a shared server). Each event is published
with its id as `Nats-Msg-Id`, so the server drops duplicates inside its window; a batch is
published asynchronously and its acknowledgements awaited together. After any failure the
connection is dropped and opened afresh. Command requests come from a durable pull consumer
central's replicas share; rejected ones are terminated, never redelivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, PubAck, StreamConfig

from contracts.bus import COMMAND_REQUESTS_TOPIC
from contracts.topics import BUS_FAMILIES
from sync_server.bus.backoff import Backoff
from sync_server.bus.base import BusPublisher, CommandSource
from sync_server.bus.errors import BusError
from sync_server.bus.inbox import CommandInbox, Outcome
from sync_server.bus.message import BusMessage
from sync_server.bus.settings import NatsSettings, RelaySettings, join_prefix

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
FETCH_MAX = 100
FETCH_WAIT_S = 1.0
CONNECTION_CHECK_S = 0.5
_FAILURES = (nats.errors.Error, OSError, TimeoutError)


def _retrieve(future: asyncio.Future[PubAck]) -> None:
    if not future.cancelled():
        future.exception()


def stream_subjects(settings: NatsSettings) -> list[str]:
    return [join_prefix(settings.subject_prefix, f"{family}.>") for family in BUS_FAMILIES]


async def _connect(settings: NatsSettings, what: str) -> tuple[Client, JetStreamContext]:
    async def on_error(err: Exception) -> None:
        log.debug("nats %s: %r", what, err)

    client = Client()
    try:
        await client.connect(
            settings.url.get_secret_value(),
            name=f"byre-central {what}",
            connect_timeout=max(1, round(settings.connect_timeout_s)),
            allow_reconnect=False,  # our loops reconnect, with back-off
            error_cb=on_error,
        )
    except _FAILURES as err:
        await _close(client)  # a failed first connect leaves its socket open otherwise
        raise BusError(f"nats: cannot connect: {err!r}") from err
    js = client.jetstream()
    try:
        await _ensure_stream(js, settings)
    except _FAILURES as err:
        await _close(client)
        raise BusError(f"nats: cannot set up stream {settings.stream!r}: {err!r}") from err
    return client, js


async def _ensure_stream(js: JetStreamContext, settings: NatsSettings) -> None:
    """Create the stream, or widen its subjects to ours; other settings of an existing stream
    (limits, replicas) are left as operators set them."""
    subjects = stream_subjects(settings)
    try:
        info = await js.stream_info(settings.stream)
    except nats.js.errors.NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=settings.stream,
                subjects=subjects,
                duplicate_window=settings.duplicate_window_s,
            )
        )
        return
    config = info.config
    if not set(subjects) <= set(config.subjects or []):
        config.subjects = sorted({*(config.subjects or []), *subjects})
        await js.update_stream(config)


async def _close(client: Client) -> None:
    try:
        await client.close()
    except _FAILURES as err:
        log.debug("nats: closing a broken connection: %r", err)


class NatsPublisher(BusPublisher):
    def __init__(self, settings: NatsSettings, relay: RelaySettings) -> None:
        self.settings = settings
        self.ack_timeout_s = relay.publish_timeout_s
        self._client: Client | None = None
        self._js: JetStreamContext | None = None

    async def publish(self, messages: Sequence[BusMessage]) -> None:
        js = await self._opened()
        prefix = self.settings.subject_prefix
        acks: list[asyncio.Future[PubAck]] = []
        try:
            for m in messages:
                ack = await js.publish_async(
                    join_prefix(prefix, m.topic),
                    m.body,
                    stream=self.settings.stream,
                    headers={**m.headers(), MSG_ID_HEADER: str(m.event_id)},
                )
                ack.add_done_callback(_retrieve)
                acks.append(ack)
            await self._all_done(acks)
        except (*_FAILURES, BusError) as err:
            await self.close()
            raise BusError(f"nats: publishing failed: {err!r}") from err
        failed = [a.exception() for a in acks if a.exception() is not None]
        if failed:
            await self.close()
            raise BusError(f"nats: {len(failed)} of {len(acks)} not acknowledged: {failed[0]!r}")

    async def _all_done(self, acks: list[asyncio.Future[PubAck]]) -> None:
        """Wait for every acknowledgement; fail early when the connection is lost."""
        pending: set[asyncio.Future[PubAck]] = set(acks)
        async with asyncio.timeout(self.ack_timeout_s):
            while pending:
                _, pending = await asyncio.wait(pending, timeout=CONNECTION_CHECK_S)
                if pending and (self._client is None or not self._client.is_connected):
                    raise BusError("nats: the connection was lost")

    async def close(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None:
            await _close(client)

    async def _opened(self) -> JetStreamContext:
        if self._js is not None and self._client is not None and self._client.is_connected:
            return self._js
        await self.close()
        self._client, self._js = await _connect(self.settings, "publisher")
        return self._js


class NatsCommandSource(CommandSource):
    def __init__(self, settings: NatsSettings, relay: RelaySettings) -> None:
        self.settings = settings
        self.backoff = Backoff("nats command consumer", relay.retry_min_s, relay.retry_max_s, log)

    async def run(self, inbox: CommandInbox) -> None:
        while True:
            try:
                await self._consume(inbox)
            except (BusError, *_FAILURES) as err:
                await self.backoff.failed(err)

    async def _consume(self, inbox: CommandInbox) -> None:
        s = self.settings
        client, js = await _connect(s, "command consumer")
        try:
            subject = join_prefix(s.subject_prefix, COMMAND_REQUESTS_TOPIC)
            subscription = await js.pull_subscribe(
                subject,
                durable=s.durable,
                stream=s.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=s.ack_wait_s,
                ),
            )
            self.backoff.succeeded()
            self.connected = True
            while True:
                if not client.is_connected:
                    raise BusError("nats: the connection was closed")
                try:
                    batch = await subscription.fetch(FETCH_MAX, timeout=FETCH_WAIT_S)
                except nats.errors.TimeoutError:
                    continue
                for message in batch:
                    await _settle(message, await inbox.handle(message.data, message.headers or {}))
        finally:
            self.connected = False
            await _close(client)


async def _settle(message: Msg, outcome: Outcome) -> None:
    if outcome is Outcome.REJECTED:
        await message.term()  # never redelivered
    else:
        await message.ack()
