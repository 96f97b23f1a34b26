"""Kafka through aiokafka: topic = bus topic, key = farm id, acks=all.

The producer is started on first use and kept while batches succeed; after a failed batch
the relay closes it and the retry starts a fresh one (fresh metadata: after a broker restart
an old producer can wait long on stale partition leaders). A batch is sent whole, then all
its acknowledgements (acks=all) are awaited together. The command consumer commits offsets
only after the inbox has stored or rejected each message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from contracts.bus import COMMAND_REQUESTS_TOPIC
from sync_server.bus.backoff import Backoff
from sync_server.bus.base import BusPublisher, CommandSource
from sync_server.bus.errors import BusError
from sync_server.bus.inbox import CommandInbox
from sync_server.bus.message import BusMessage
from sync_server.bus.settings import KafkaSettings, RelaySettings, join_prefix

log = logging.getLogger(__name__)

FETCH_WAIT_MS = 1000
FETCH_MAX = 100
CLOSE_TIMEOUT_S = 5.0


class KafkaPublisher(BusPublisher):
    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, messages: Sequence[BusMessage]) -> None:
        producer = await self._started()
        sent: list[asyncio.Future[object]] = []
        try:
            for m in messages:
                future = await producer.send(
                    join_prefix(self.settings.topic_prefix, m.topic),
                    m.body,
                    key=m.key.encode(),
                    headers=[(k, v.encode()) for k, v in m.headers().items()],
                )
                future.add_done_callback(_retrieve)  # no failure is left unretrieved
                sent.append(future)
        except KafkaError as err:
            raise BusError(f"kafka: {err!r}") from err
        results = await asyncio.gather(*sent, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise BusError(f"kafka: {len(failed)} of {len(sent)} not confirmed: {failed[0]!r}")

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            # stop() flushes what is pending first; after a failure that can hang on a
            # broker that went away, and the relay sends those rows again anyway.
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await producer.stop()
        except (TimeoutError, KafkaError, OSError) as err:
            log.debug("kafka: closing the producer: %r", err)
            with contextlib.suppress(KafkaError, OSError):
                await producer.client.close()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        timeout_ms = int(self.settings.request_timeout_s * 1000)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            client_id=self.settings.client_id,
            acks="all",
            enable_idempotence=self.settings.idempotent,
            request_timeout_ms=timeout_ms,
            retry_backoff_ms=200,
        )
        try:
            await producer.start()
        except KafkaError as err:
            await producer.stop()
            raise BusError(f"kafka: cannot connect: {err}") from err
        self._producer = producer
        return producer


class KafkaCommandSource(CommandSource):
    def __init__(self, settings: KafkaSettings, relay: RelaySettings) -> None:
        self.settings = settings
        self.backoff = Backoff("kafka command consumer", relay.retry_min_s, relay.retry_max_s, log)

    async def run(self, inbox: CommandInbox) -> None:
        while True:
            try:
                await self._consume(inbox)
            except (BusError, KafkaError) as err:
                await self.backoff.failed(err)

    async def _consume(self, inbox: CommandInbox) -> None:
        session_ms = int(self.settings.session_timeout_s * 1000)
        consumer = AIOKafkaConsumer(
            join_prefix(self.settings.topic_prefix, COMMAND_REQUESTS_TOPIC),
            bootstrap_servers=self.settings.bootstrap_servers,
            client_id=self.settings.client_id,
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=session_ms // 5,
        )
        try:
            await consumer.start()
            self.backoff.succeeded()
            self.connected = True
            while True:
                batches = await consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=FETCH_MAX)
                for records in batches.values():
                    for record in records:
                        headers = {k: v.decode(errors="replace") for k, v in record.headers}
                        await inbox.handle(record.value or b"", headers)
                if batches:
                    await consumer.commit()
        finally:
            self.connected = False
            await consumer.stop()


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
