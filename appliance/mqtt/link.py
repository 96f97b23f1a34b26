"""The appliance's own MQTT connection: device messages in, commands out.

One persistent session (so messages that arrive while it reconnects are queued by the
broker) that subscribes to every device's telemetry, state, availability and command acks and
hands each message to the handler registered for its kind. The same code talks to the
embedded broker and to an external one (Mosquitto).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import aiomqtt

from appliance.errors import ApplianceError
from contracts.errors import TopicError
from contracts.mqtt import DeviceTopic, DeviceTopicKind, parse_device_topic, subscription

log = logging.getLogger(__name__)

Handler = Callable[[DeviceTopic, bytes, bool], Awaitable[None]]
"""Called with the parsed topic, the payload and the retain flag of one message."""


class LinkDownError(ApplianceError):
    """The appliance is not connected to the device broker right now."""


@dataclass(frozen=True)
class BrokerAddress:
    hostname: str
    port: int
    username: str | None
    password: str | None
    transport: Literal["tcp", "websockets"] = "tcp"
    tls: bool = False
    cafile: Path | None = None

    @classmethod
    def from_url(
        cls, url: str, *, username: str | None, password: str | None, cafile: Path | None
    ) -> BrokerAddress:
        parts = urlsplit(url)
        scheme = parts.scheme
        default_port = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}[scheme]
        return cls(
            hostname=parts.hostname or "127.0.0.1",
            port=parts.port or default_port,
            username=username,
            password=password,
            transport="websockets" if scheme in ("ws", "wss") else "tcp",
            tls=scheme in ("mqtts", "wss"),
            cafile=cafile,
        )


class MqttLink:
    """Keeps the appliance connected; dispatches device messages by topic kind."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        root: str,
        client_id: str,
        keepalive_s: int = 30,
        retry_max_s: float = 10.0,
    ) -> None:
        self.address = address
        self.root = root
        self.client_id = client_id
        self.keepalive_s = keepalive_s
        self.retry_max_s = retry_max_s
        self.ready = asyncio.Event()
        self.received = 0
        self.rejected: Counter[str] = Counter()
        self._handlers: dict[DeviceTopicKind, Handler] = {}
        self._client: aiomqtt.Client | None = None

    def on(self, kind: DeviceTopicKind, handler: Handler) -> None:
        """Route messages of `kind` from every device to `handler` (before `run`)."""
        self._handlers[kind] = handler

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish and wait for the broker's acknowledgement; LinkDownError when offline."""
        client = self._client
        if client is None or not self.ready.is_set():
            raise LinkDownError("not connected to the device broker")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as err:
            raise LinkDownError(f"publish to {topic} failed: {err}") from err

    async def run(self) -> None:
        delay = 0.2
        failing = False
        while True:
            try:
                async with self._connect() as client:
                    _raise_if_cancelled()
                    self._client = client
                    topics = [(subscription(kind, root=self.root), 1) for kind in self._handlers]
                    if topics:
                        await client.subscribe(topics)
                    _raise_if_cancelled()
                    self.ready.set()
                    if failing:
                        log.info("connected to the device broker again")
                    failing, delay = False, 0.2
                    async for message in client.messages:
                        await self._dispatch(message)
            except aiomqtt.MqttError as err:
                if not failing:
                    log.warning("device broker connection lost (%s); retrying", err)
                failing = True
            finally:
                self.ready.clear()
                self._client = None
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, self.retry_max_s)

    def _connect(self) -> aiomqtt.Client:
        a = self.address
        context = ssl.create_default_context(cafile=a.cafile) if a.tls else None
        return aiomqtt.Client(
            a.hostname,
            a.port,
            username=a.username,
            password=a.password,
            identifier=self.client_id,
            clean_session=False,
            keepalive=self.keepalive_s,
            transport=a.transport,
            tls_context=context,
            timeout=10,
        )

    async def _dispatch(self, message: aiomqtt.Message) -> None:
        self.received += 1
        try:
            topic = parse_device_topic(message.topic.value, root=self.root)
        except TopicError:
            self.rejected["topic"] += 1
            return
        handler = self._handlers.get(topic.kind)
        payload = message.payload
        if handler is None or not isinstance(payload, bytes | bytearray):
            self.rejected["topic"] += 1
            return
        try:
            await handler(topic, bytes(payload), bool(message.retain))
        except Exception:
            self.rejected["handler_error"] += 1
            log.exception("handling %s failed", message.topic.value)


def _raise_if_cancelled() -> None:
    """Python 3.11's wait_for (used by aiomqtt) can swallow a cancellation that arrives as
    its future completes; a task asked to stop must not carry on as if nothing happened."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
