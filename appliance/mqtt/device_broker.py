"""amqtt's broker, extended where devices rely on MQTT 3.1.1 behaviour amqtt 0.12.1 lacks.

Each fix is an override of one amqtt method (see docs/adr/0005-device-broker.md):

- keepalive: a client silent for 1.5x its keepalive is disconnected and its last will is
  published (amqtt only logged the read timeout);
- login before session: a CONNECT is authenticated before it may touch an existing session
  (amqtt deleted the session of the client id first), and a second connection with the same
  client id closes the first one, will included, before it resumes the session (amqtt left the
  shared session marked disconnected, so messages for the new connection were queued instead);
- QoS: a message is delivered at the lower of its publish QoS and the subscription's, also
  when retained (amqtt used the subscription's, and upgraded retained QoS 0 messages);
- retained messages are sent on SUBSCRIBE only, and only those the subscriber may receive
  (amqtt re-sent every retained message matching any client's filter to each reconnecting client);
- offline queueing: QoS 1/2 messages for a disconnected persistent session are queued (bounded)
  and delivered with retain=0 when it reconnects;
- redelivery: an outgoing QoS 1/2 message not acknowledged when the connection drops stays in
  the persistent session and is resent (DUP, same packet id) on reconnect (amqtt dropped it);
- packets larger than `max_packet_bytes` close the connection before their body is read, and
  a connection that sends no CONNECT within `connect_timeout_s` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker, RetainedApplicationMessage, Server
from amqtt.contexts import Action
from amqtt.errors import BrokerError
from amqtt.events import BrokerEvents
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import OUTGOING, ApplicationMessage, Session

from appliance.mqtt.metrics import BrokerCounters

log = logging.getLogger(__name__)

KEEPALIVE_GRACE = 1.5
_PUBLISH_QOS = "byre.publish_qos"
_SUBACK_FAILURE = 0x80
_CONNECT_HEADER = b"\x10"
_TAKEOVER_WAIT_S = 5.0


@dataclass(frozen=True)
class BrokerLimits:
    max_packet_bytes: int = 65_536
    max_queued_messages: int = 1000
    connect_timeout_s: float = 10.0


class PacketTooLargeError(Exception):
    """A client announced a packet larger than the broker accepts."""


ReceiveCheck = Callable[[Session, str], bool]
AclCheck = Callable[[Session, str, str], bool]
"""(session, topic, action) -> allowed: the topic plugin's decision without a task per call."""


class NotMqttError(Exception):
    """A connection did not start with a CONNECT packet."""


class _LimitedReader(ReaderAdapter):  # type: ignore[misc]  # amqtt is untyped
    """Refuses a first packet that is not CONNECT, and any packet body larger than the limit
    (amqtt reads a body in one call, so the size is known before it is read)."""

    def __init__(self, inner: ReaderAdapter, limit: int, on_refuse: Callable[[], None]) -> None:
        self._inner = inner
        self._limit = limit
        self._on_refuse = on_refuse
        self._first = True

    async def read(self, n: int = -1) -> bytes:
        if n > self._limit:
            self._on_refuse()
            raise PacketTooLargeError(f"packet of more than {self._limit} bytes")
        data: bytes = await self._inner.read(n)
        if self._first:
            self._first = False
            if data[:1] != _CONNECT_HEADER:
                raise NotMqttError(f"first byte {data[:1]!r} is not CONNECT")
        return data

    def feed_eof(self) -> None:
        self._inner.feed_eof()


class _DeviceHandler(BrokerProtocolHandler):  # type: ignore[misc]  # amqtt is untyped
    """Closes silent connections and keeps unacknowledged messages of persistent sessions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing: asyncio.Task[None] | None = None
        self.on_keepalive_expired: Callable[[], None] | None = None

    async def stop(self) -> None:
        # amqtt cancels the reader task and waits for it to end; Python 3.11's wait_for can
        # swallow that cancellation when a packet arrives at the same moment, so keep asking.
        reader = self._reader_task
        nudge = None
        if reader is not None and reader is not asyncio.current_task() and not reader.done():
            nudge = asyncio.ensure_future(_cancel_until_done(reader, self._reader_stopped))
        try:
            await super().stop()
        finally:
            if nudge is not None:
                nudge.cancel()

    def handle_read_timeout(self) -> None:
        # The reader waits keep_alive seconds (already scaled by the grace factor) for a packet.
        if self._closing is None:
            if self.on_keepalive_expired is not None:
                self.on_keepalive_expired()
            self._closing = asyncio.ensure_future(self.handle_connection_closed())

    async def _handle_qos1_message_flow(self, app_message: ApplicationMessage) -> None:
        session = self.session
        try:
            await super()._handle_qos1_message_flow(app_message)
        finally:
            _keep_unacknowledged(session, app_message, app_message.puback_packet is not None)

    async def _handle_qos2_message_flow(self, app_message: ApplicationMessage) -> None:
        session = self.session
        try:
            await super()._handle_qos2_message_flow(app_message)
        finally:
            _keep_unacknowledged(session, app_message, app_message.pubcomp_packet is not None)


async def _cancel_until_done(task: asyncio.Task[Any], stopped: asyncio.Event) -> None:
    """Re-cancel a reader that swallowed its cancellation, until it leaves its loop (after
    that it closes its connection, which must not be interrupted)."""
    while not task.done():
        await asyncio.sleep(0.1)
        if stopped.is_set():
            return
        task.cancel()


def _keep_unacknowledged(session: Session | None, message: Any, acknowledged: bool) -> None:
    """Put an outgoing message back in flight so the next connection resends it."""
    if (
        session is not None
        and not session.clean_session
        and getattr(message, "direction", None) == OUTGOING
        and message.packet_id is not None
        and not acknowledged
    ):
        session.inflight_out[message.packet_id] = message


class _Subscriptions(dict[str, list[tuple[Session, int]]]):
    """amqtt's filter -> subscribers map, with a version that changes with its keys."""

    version = 0

    def __setitem__(self, key: str, value: list[tuple[Session, int]]) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def clear(self) -> None:
        super().clear()
        self.version += 1


class DeviceBroker(Broker):  # type: ignore[misc]  # amqtt is untyped
    """The embedded broker with the behaviour devices rely on (see the module docstring)."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        limits: BrokerLimits,
        counters: BrokerCounters,
        may_receive: ReceiveCheck | None = None,
        acl: AclCheck | None = None,
    ) -> None:
        super().__init__(config)
        self.limits = limits
        self.counters = counters
        self._may_receive_check = may_receive
        self._acl_check = acl
        self._writers: set[asyncio.StreamWriter] = set()
        self._subscriptions = _Subscriptions()
        self._wildcards: list[str] = []
        self._wildcards_version = -1

    # --- connections --------------------------------------------------------------------------

    async def _client_connected(
        self, listener_name: str, reader: ReaderAdapter, writer: WriterAdapter
    ) -> None:
        server = self._servers.get(listener_name)
        if server is None:
            raise BrokerError(f"Invalid listener name '{listener_name}'")
        await server.acquire_connection()
        try:
            limited = _LimitedReader(reader, self.limits.max_packet_bytes, self._count_oversized)
            await self._serve(listener_name, server, limited, writer)
        finally:
            server.release_connection()

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        # amqtt's writer adapter marks itself closed before it closes the transport; when that
        # close is interrupted the socket stays open, so every connection is closed here too.
        self._writers.add(writer)
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def shutdown(self) -> None:
        await super().shutdown()
        for writer in list(self._writers):  # connections still logging in or closing
            if not writer.is_closing():
                writer.close()

    async def _serve(
        self, listener_name: str, server: Server, reader: ReaderAdapter, writer: WriterAdapter
    ) -> None:
        if writer.get_peer_info() is None:
            await _close(writer)
            return
        try:
            handler, incoming = await asyncio.wait_for(
                _DeviceHandler.init_from_connect(reader, writer, self.plugins_manager),
                self.limits.connect_timeout_s,
            )
        except Exception as err:  # noqa: BLE001 - anything a stranger sends ends here
            self.counters.malformed_connects += 1
            log.debug("refused a connection without a valid CONNECT: %r", err)
            await _close(writer)
            return
        if not await self._authenticate(incoming, self.listeners_config[listener_name]):
            handler.attach(incoming, reader, writer)
            await handler.mqtt_connack_authorize(False)
            await _close(writer)
            return
        session = await self._resume_session(incoming)
        if session.keep_alive > 0:
            session.keep_alive = math.ceil(session.keep_alive * KEEPALIVE_GRACE)
        handler.on_keepalive_expired = self._count_keepalive_expired
        self.counters.connections += 1
        try:
            await self._handle_client_session(
                reader, writer, session, handler, server, listener_name
            )
        except Exception as err:  # noqa: BLE001 - one client's failure must not reach the others
            log.warning("MQTT session of %s ended with an error: %r", session.client_id, err)
        finally:
            await self._end_session(session, handler)

    async def _resume_session(self, incoming: Session) -> Session:
        """The session this authenticated CONNECT continues (MQTT 3.1.1 section 3.1.2.4)."""
        client_id = incoming.client_id
        current = self._sessions.get(client_id)
        if current is not None and current[0].transitions.is_connected():
            await self._close_connection(current[0], current[1])
        if incoming.clean_session:
            await self._delete_session(client_id)
            incoming.parent = 0
            return incoming
        current = self._sessions.get(client_id)
        if current is None:
            incoming.parent = 0
            return incoming
        session: Session = current[0]
        for name in (
            "will_flag",
            "will_message",
            "will_topic",
            "will_qos",
            "will_retain",
            "keep_alive",
            "username",
            "password",
            "remote_address",
            "remote_port",
            "ssl_object",
        ):
            setattr(session, name, getattr(incoming, name))
        session.attributes.update(incoming.attributes)
        session.parent = 1
        return session

    async def _close_connection(self, session: Session, handler: BrokerProtocolHandler) -> None:
        """Close a live connection as if the network dropped it (its will is published)."""
        await handler.handle_connection_closed()
        for _ in range(int(_TAKEOVER_WAIT_S / 0.01)):
            if not session.transitions.is_connected():
                return
            await asyncio.sleep(0.01)
        log.warning("connection of %s did not close in time", session.client_id)

    async def _end_session(self, session: Session, handler: BrokerProtocolHandler) -> None:
        """After the message loop: a connection the broker dropped ends like a lost one."""
        current = self._sessions.get(session.client_id)
        if current is None or current[1] is not handler:
            return
        if session.transitions.is_connected():
            lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            lost.set_result(None)
            await self._handle_disconnect(session, handler, lost)

    async def disconnect_client(self, client_id: str, *, forget: bool) -> None:
        """Close a client's connection (its will is published); `forget` drops its session."""
        current = self._sessions.get(client_id)
        if current is not None and current[0].transitions.is_connected():
            await self._close_connection(current[0], current[1])
        if forget:
            await self._delete_session(client_id)

    def connected_clients(self) -> int:
        return sum(1 for s, _ in self._sessions.values() if s.transitions.is_connected())

    def _count_oversized(self) -> None:
        self.counters.oversized_packets += 1

    def _count_keepalive_expired(self) -> None:
        self.counters.keepalive_expired += 1

    # --- routing ------------------------------------------------------------------------------

    async def _handle_message_delivery(
        self, client_session: Session, handler: BrokerProtocolHandler, wait_deliver: Any
    ) -> bool:
        message = wait_deliver.result()
        if message is not None:
            client_session.attributes[_PUBLISH_QOS] = message.qos
        delivered: bool = await super()._handle_message_delivery(
            client_session, handler, wait_deliver
        )
        return delivered

    async def _broadcast_message(
        self,
        session: Session | None,
        topic: str | None,
        data: bytes | bytearray | None,
        force_qos: int | None = None,
    ) -> None:
        broadcast: dict[str, Any] = {"session": session, "topic": topic, "data": data}
        if force_qos is not None:
            broadcast["qos"] = force_qos
        elif session is not None and session.attributes.get(_PUBLISH_QOS) is not None:
            broadcast[_PUBLISH_QOS] = session.attributes[_PUBLISH_QOS]
        await self._broadcast_queue.put(broadcast)

    async def _broadcast_loop(self) -> None:
        """Route queued messages one after the other (amqtt spawned a task per message)."""
        running: deque[asyncio.Task[Any]] = self._tasks_queue
        while True:
            broadcast = await self._broadcast_queue.get()
            try:
                await self._route(broadcast, running)
            except Exception:
                log.exception("routing a message on %s failed", broadcast.get("topic"))
            while running and running[0].done():
                _retrieve(running.popleft())

    async def _shutdown_broadcast_loop(self) -> None:
        if self._broadcast_task is not None and not self._broadcast_task.done():
            self._broadcast_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._broadcast_task
        for task in self._tasks_queue:
            task.cancel()
        self._tasks_queue.clear()
        self._broadcast_shutdown_waiter: asyncio.Future[Any] = asyncio.Future()

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if self._acl_check is not None:
            return self._acl_check(session, topic, str(action))
        allowed: bool = await super()._topic_filtering(session, topic, action)
        return allowed

    async def _run_broadcast(self, running_tasks: deque[asyncio.Task[Any]]) -> None:
        await self._route(await self._broadcast_queue.get(), running_tasks)

    async def _route(
        self, broadcast: dict[str, Any], running_tasks: deque[asyncio.Task[Any]]
    ) -> None:
        topic: str = broadcast["topic"]
        data = broadcast["data"]
        publish_qos = broadcast.get("qos", broadcast.get(_PUBLISH_QOS))
        for session, sub_qos in self._subscribers(topic).values():
            qos = sub_qos if publish_qos is None else min(publish_qos, sub_qos)
            if not await self._may_receive(session, topic):
                continue
            if session.transitions.is_connected():
                handler = self._get_handler(session)
                if handler is not None:
                    running_tasks.append(
                        asyncio.ensure_future(handler.mqtt_publish(topic, data, qos, retain=False))
                    )
            elif not session.clean_session and qos > 0:
                self._queue_offline(session, RetainedApplicationMessage(None, topic, data, qos))

    def _subscribers(self, topic: str) -> dict[str, tuple[Session, int]]:
        """Each subscribed session once, with the highest QoS of its matching filters."""
        subscriptions = self._subscriptions
        if self._wildcards_version != subscriptions.version:
            self._wildcards = [f for f in subscriptions if "+" in f or "#" in f]
            self._wildcards_version = subscriptions.version
        filters = [f for f in self._wildcards if self._matches(topic, f)]
        if topic in subscriptions:
            filters.append(topic)
        found: dict[str, tuple[Session, int]] = {}
        for topic_filter in filters:
            for session, qos in subscriptions.get(topic_filter, ()):
                known = found.get(session.client_id)
                if known is None or known[1] < qos:
                    found[session.client_id] = (session, qos)
        return found

    def _queue_offline(self, session: Session, message: RetainedApplicationMessage) -> None:
        queue = session.retained_messages
        while queue.qsize() >= self.limits.max_queued_messages:
            queue.get_nowait()
            self.counters.queue_overflow += 1
        queue.put_nowait(message)

    async def _publish_session_retained_messages(self, session: Session) -> None:
        """Deliver what was queued while the session was offline, in order, with retain=0."""
        handler = self._get_handler(session)
        tasks = []
        while handler is not None and not session.retained_messages.empty():
            queued = session.retained_messages.get_nowait()
            tasks.append(
                asyncio.ensure_future(
                    handler.mqtt_publish(queued.topic, queued.data, queued.qos, retain=False)
                )
            )
        await _wait_all(tasks)

    async def _handle_subscription(
        self, client_session: Session, handler: BrokerProtocolHandler, subscribe_waiter: Any
    ) -> None:
        request = subscribe_waiter.result()
        granted = [await self.add_subscription(s, client_session) for s in request.topics]
        await handler.mqtt_acknowledge_subscription(request.packet_id, granted)
        for (topic_filter, _requested), qos in zip(request.topics, granted, strict=True):
            if qos == _SUBACK_FAILURE:
                continue
            await self.plugins_manager.fire_event(
                BrokerEvents.CLIENT_SUBSCRIBED,
                client_id=client_session.client_id,
                topic=topic_filter,
                qos=qos,
            )
            await self._send_retained(client_session, handler, topic_filter, qos)

    async def _send_retained(
        self, session: Session, handler: BrokerProtocolHandler, topic_filter: str, granted: int
    ) -> None:
        tasks = []
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, topic_filter):
                continue
            if not await self._may_receive(session, topic):
                continue
            qos = granted if retained.qos is None else min(granted, retained.qos)
            tasks.append(
                asyncio.ensure_future(handler.mqtt_publish(topic, retained.data, qos, retain=True))
            )
        await _wait_all(tasks)

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        """Retained messages go out on SUBSCRIBE only (`_send_retained`), never on reconnect."""

    async def _may_receive(self, session: Session, topic: str) -> bool:
        if self._may_receive_check is not None:
            return self._may_receive_check(session, topic)
        allowed: bool = await self._topic_filtering(session, topic=topic, action=Action.RECEIVE)
        return allowed


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("delivery to a client failed: %r", task.exception())


async def _wait_all(tasks: list[asyncio.Future[Any]]) -> None:
    """Wait for publish flows; a failed one is logged (its message stays in flight if kept)."""
    if not tasks:
        return
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.debug("publish to a client failed: %r", task.exception())


async def _close(writer: WriterAdapter) -> None:
    try:
        await writer.close()
    except (OSError, RuntimeError):
        log.debug("closing a refused connection failed", exc_info=True)
