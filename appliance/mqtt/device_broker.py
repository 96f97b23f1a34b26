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
- overload: an outgoing QoS 1/2 message stays in flight until the client acknowledges it,
  however late (amqtt dropped it after 5 s without PUBACK); at most `max_inflight_messages`
  per connection, the rest wait in order;
- cost: PUBLISH/PUBACK are read, routed and written without a task, future or timer per
  packet (amqtt used several per message);
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

from amqtt.adapters import BufferReader, ReaderAdapter, StreamWriterAdapter, WriterAdapter
from amqtt.broker import Broker, RetainedApplicationMessage, Server
from amqtt.contexts import Action
from amqtt.errors import BrokerError, MQTTError, NoDataError, ProtocolHandlerError
from amqtt.events import BrokerEvents, MQTTEvents
from amqtt.mqtt import packet_class
from amqtt.mqtt.packet import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    RESERVED_0,
    RESERVED_15,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    MQTTFixedHeader,
)
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.pubrec import PubrecPacket
from amqtt.session import (
    OUTGOING,
    ApplicationMessage,
    IncomingApplicationMessage,
    OutgoingApplicationMessage,
    Session,
)

from appliance.mqtt.metrics import BrokerCounters

log = logging.getLogger(__name__)

KEEPALIVE_GRACE = 1.5
_PUBLISH_QOS = "byre.publish_qos"
_SUBACK_FAILURE = 0x80
_CONNECT_HEADER = b"\x10"
_TAKEOVER_WAIT_S = 5.0
_PUBACK = b"\x40\x02"
_PUBREL = b"\x62\x02"
_PUBLISH_ACTION = str(Action.PUBLISH)
_SILENCE_CONFIRM_S = 0.5


@dataclass(frozen=True)
class BrokerLimits:
    max_packet_bytes: int = 65_536
    max_queued_messages: int = 1000
    connect_timeout_s: float = 10.0
    max_inflight_messages: int = 1000
    max_pending_messages: int = 100_000


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


class _Outgoing(OutgoingApplicationMessage):  # type: ignore[misc]  # amqtt is untyped
    """An outgoing QoS 1/2 message; `sent` once its PUBLISH was written (a resend sets DUP)."""

    __slots__ = ("sent",)

    def __init__(self, packet_id: int, topic: str, qos: int, data: bytes, retain: bool) -> None:
        super().__init__(packet_id, topic, qos, data, retain)
        self.sent = False


PublishRoute = Callable[[Session, str, bytes, int, bool], bool]
"""(session, topic, payload, qos, retain) -> keep the connection: routes a received PUBLISH."""
Unsent = Callable[[Session, list[tuple[str, bytes, int]]], None]
"""Takes the messages a closed connection had not sent yet (queued for a persistent session)."""

_PACKET_TASKS = {
    CONNACK: "handle_connack",
    SUBSCRIBE: "handle_subscribe",
    UNSUBSCRIBE: "handle_unsubscribe",
    SUBACK: "handle_suback",
    UNSUBACK: "handle_unsuback",
    PUBREL: "handle_pubrel",
    PINGREQ: "handle_pingreq",
    PINGRESP: "handle_pingresp",
    DISCONNECT: "handle_disconnect",
}
"""Packets amqtt's handlers serve in a task of their own (the frequent ones are served inline)."""


class _DeviceHandler(BrokerProtocolHandler):  # type: ignore[misc]  # amqtt is untyped
    """amqtt's broker-side protocol handler with a cheaper, lossless message path.

    - PUBLISH (QoS 0/1), PUBACK, PUBREC and PUBCOMP are handled in the reader loop itself,
      without a task, a future or a timer per packet; a received message is routed at once
      (`route`) and its PUBACK written after that.
    - an outgoing QoS 1/2 message stays in the session's `inflight_out` until the client
      acknowledges it, however late (amqtt gave up after 5 s and dropped it); at most
      `max_inflight` are in flight, the rest wait in order in a bounded queue;
    - a client silent for its (scaled) keepalive is disconnected and its will published.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._closing: asyncio.Task[None] | None = None
        self.on_keepalive_expired: Callable[[], None] | None = None
        self.on_overflow: Callable[[], None] | None = None
        self.route: PublishRoute | None = None
        self.on_unsent: Unsent | None = None
        self.max_inflight = 1000
        self.max_pending = 100_000
        self._pending: deque[tuple[str, bytes, int, bool]] = deque()
        self._stopped = False
        self._last_read = 0.0
        self._silence: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._out: list[bytes] = []

    # --- writing ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        """Queue bytes for the client; everything queued in one loop pass goes out together."""
        if self.writer is None or self._stopped:
            return
        self._out.append(data)
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._flush_out)

    def _flush_out(self) -> None:
        out, self._out = self._out, []
        writer = self.writer
        if not out or writer is None or writer.is_closed:
            return
        stream = getattr(writer, "_writer", None)
        if isinstance(stream, asyncio.StreamWriter) and stream.is_closing():
            return  # the link is gone; unacknowledged messages stay in flight
        writer.write(b"".join(out))
        if not isinstance(writer, StreamWriterAdapter) and self._flushing is None:
            # other adapters (WebSocket) buffer until drained: one drain per batch of writes
            self._flushing = asyncio.ensure_future(self._flush(writer))

    async def _flush(self, writer: WriterAdapter) -> None:
        self._flushing = None
        try:
            await writer.drain()
        except Exception as err:  # noqa: BLE001 - a dead link is noticed by the reader
            log.debug("flushing to a client failed: %r", err)

    async def _send_packet(self, packet: Any) -> None:
        self._flush_out()  # amqtt's own packets (CONNACK, SUBACK, ...) keep their order
        await super()._send_packet(packet)

    # --- outgoing messages -----------------------------------------------------------------

    def deliver(self, topic: str, data: bytes, qos: int, retain: bool = False) -> None:
        """Send a message to this client now, or queue it behind the full in-flight window."""
        session = self.session
        if session is None or self._stopped:
            if session is not None and qos > 0 and self.on_unsent is not None:
                self.on_unsent(session, [(topic, data, qos)])
            return
        if qos == 0:
            self._write(_publish_bytes(topic, data, 0, retain, False, 0))
            return
        if self._pending or len(session.inflight_out) >= self.max_inflight:
            if len(self._pending) >= self.max_pending:
                self._pending.popleft()
                if self.on_overflow is not None:
                    self.on_overflow()
            self._pending.append((topic, data, qos, retain))
            return
        self._start(session, topic, data, qos, retain)

    def _start(self, session: Session, topic: str, data: bytes, qos: int, retain: bool) -> None:
        message = _Outgoing(session.next_packet_id, topic, qos, bytes(data), retain)
        session.inflight_out[message.packet_id] = message
        self._send(message)

    def _send(self, message: Any) -> None:
        """(Re)send an in-flight message: PUBREL if the client already has it, else PUBLISH."""
        if message.qos == 2 and message.pubrec_packet is not None:
            self._write(_PUBREL + message.packet_id.to_bytes(2, "big"))
            return
        sent = bool(getattr(message, "sent", message.publish_packet is not None))
        self._write(
            _publish_bytes(
                message.topic, message.data, message.qos, message.retain, sent, message.packet_id
            )
        )
        if isinstance(message, _Outgoing):
            message.sent = True

    def _acknowledged(self, packet_id: int) -> None:
        session = self.session
        if session is None:
            return
        if session.inflight_out.pop(packet_id, None) is None:
            log.debug("%s acknowledged unknown packet id %d", session.client_id, packet_id)
        pending = self._pending
        while pending and len(session.inflight_out) < self.max_inflight and not self._stopped:
            self._start(session, *pending.popleft())

    async def _handle_qos1_message_flow(self, app_message: ApplicationMessage) -> None:
        if getattr(app_message, "direction", None) != OUTGOING:
            await super()._handle_qos1_message_flow(app_message)
            return
        self._keep_in_flight(app_message)

    async def _handle_qos2_message_flow(self, app_message: ApplicationMessage) -> None:
        if getattr(app_message, "direction", None) != OUTGOING:
            await super()._handle_qos2_message_flow(app_message)
            return
        self._keep_in_flight(app_message)

    def _keep_in_flight(self, message: Any) -> None:
        """amqtt's outgoing flows (mqtt_publish, resends on reconnect): the message stays in
        flight until acknowledged, never dropped on a timeout."""
        session = self.session
        if session is None:
            return
        session.inflight_out[message.packet_id] = message
        self._send(message)

    # --- reading ---------------------------------------------------------------------------

    async def _reader_loop(self) -> None:
        session, reader, ready = self.session, self.reader, self._reader_ready
        if session is None or reader is None or ready is None:
            raise ProtocolHandlerError("reader loop of a detached handler")
        loop = asyncio.get_running_loop()
        keepalive = session.keep_alive if session.keep_alive > 0 else None
        self._last_read = loop.time()
        if keepalive is not None:
            self._silence = loop.call_later(keepalive, self._check_silence, keepalive)
        running: deque[asyncio.Task[None]] = deque()
        ready.set()
        while True:
            try:
                while running and running[0].done():
                    running.popleft()
                first, body = await _read_packet(reader)
                self._last_read = loop.time()
                kind = first >> 4
                if kind in (RESERVED_0, RESERVED_15):
                    log.warning("%s sent a reserved packet type", session.client_id)
                    await self.handle_connection_closed()
                    continue
                if self._packet_events:
                    packet = await _decode(first, body)
                    await self.plugins_manager.fire_event(
                        MQTTEvents.PACKET_RECEIVED, packet=packet, session=session
                    )
                if kind == PUBLISH and (first >> 1) & 0x03 < 2 and self.route is not None:
                    if not self._received(session, first, body):
                        log.warning("%s sent a malformed PUBLISH", session.client_id)
                        await self.handle_connection_closed()
                elif kind in (PUBACK, PUBCOMP):
                    self._acknowledged(_packet_id(body))
                elif kind == PUBREC:
                    self._received_pubrec(_packet_id(body))
                elif kind == PUBLISH:
                    packet = await _decode(first, body)
                    running.append(asyncio.create_task(self.handle_publish(packet)))
                elif kind == CONNECT:
                    await self.handle_connect(await _decode(first, body))
                elif kind in _PACKET_TASKS:
                    handle = getattr(self, _PACKET_TASKS[kind])
                    running.append(asyncio.create_task(handle(await _decode(first, body))))
                else:
                    log.warning("%s sent an unhandled packet type %s", session.client_id, kind)
            except (MQTTError, NoDataError) as err:
                log.debug("%s: packet discarded: %r", session.client_id, err)
            except asyncio.CancelledError:
                break
            except Exception as err:  # noqa: BLE001 - EOF, a broken link or a malformed packet
                log.debug("%s: reader stopped: %r", session.client_id, err)
                break
        if self._silence is not None:
            self._silence.cancel()
        while running:
            running.popleft().cancel()
        await self.handle_connection_closed()
        self._reader_stopped.set()
        await self.stop()

    @property
    def _packet_events(self) -> bool:
        callbacks = getattr(self.plugins_manager, "_event_plugin_callbacks", None)
        return callbacks is None or MQTTEvents.PACKET_RECEIVED in callbacks

    def _received(self, session: Session, first: int, body: bytes) -> bool:
        """A QoS 0/1 PUBLISH, parsed in place and routed; False closes the connection."""
        qos = (first >> 1) & 0x03
        size = int.from_bytes(body[:2], "big")
        start = 2 + size
        if len(body) < start + (2 if qos else 0) or self.route is None:
            return False
        try:
            topic = body[2:start].decode()
        except UnicodeDecodeError:
            return False
        data = body[start + 2 :] if qos else body[start:]
        if not self.route(session, topic, data, qos, bool(first & 0x01)):
            return False
        if qos == 1:
            self._write(_PUBACK + body[start : start + 2])
        return True

    def _received_pubrec(self, packet_id: int) -> None:
        session = self.session
        message = session.inflight_out.get(packet_id) if session is not None else None
        if message is None:
            log.debug("PUBREC for unknown packet id %d", packet_id)
        else:
            message.pubrec_packet = PubrecPacket.build(packet_id)
        self._write(_PUBREL + packet_id.to_bytes(2, "big"))

    def _check_silence(self, keepalive: float, confirm: bool = False) -> None:
        """Drop a client silent for its keepalive; confirmed a moment later, so that a loop
        that was busy (the timer ran late) first reads what the client sent meanwhile."""
        loop = asyncio.get_running_loop()
        self._silence = None
        idle = loop.time() - self._last_read
        if idle < keepalive:
            self._silence = loop.call_later(keepalive - idle, self._check_silence, keepalive)
        elif not confirm:
            self._silence = loop.call_later(
                _SILENCE_CONFIRM_S, self._check_silence, keepalive, True
            )
        else:
            client_id = self.session.client_id if self.session is not None else None
            log.info("%s silent for %.0f s: disconnected", client_id, idle)
            self.handle_read_timeout()

    def handle_read_timeout(self) -> None:
        if self._closing is None:
            if self.on_keepalive_expired is not None:
                self.on_keepalive_expired()
            self._closing = asyncio.ensure_future(self.handle_connection_closed())

    # --- stopping --------------------------------------------------------------------------

    async def stop(self) -> None:
        # amqtt cancels the reader task and waits for it to end; Python 3.11's wait_for can
        # swallow that cancellation when a packet arrives at the same moment, so keep asking.
        session = self.session
        self._flush_out()
        self._stopped = True
        if self._silence is not None:
            self._silence.cancel()
        reader = self._reader_task
        nudge = None
        if reader is not None and reader is not asyncio.current_task() and not reader.done():
            nudge = asyncio.ensure_future(_cancel_until_done(reader, self._reader_stopped))
        try:
            await super().stop()
        finally:
            if nudge is not None:
                nudge.cancel()
            if self._pending and session is not None and self.on_unsent is not None:
                self.on_unsent(session, [(t, d, q) for t, d, q, _ in self._pending])
            self._pending.clear()


async def _read_packet(reader: ReaderAdapter) -> tuple[int, bytes]:
    """One packet's first byte and body (amqtt decoded each field with its own reads)."""
    first = (await reader.read(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.read(1))[0]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 21:
            raise NoDataError("malformed remaining length")
    return first, (await reader.read(length)) if length else b""


async def _decode(first: int, body: bytes) -> Any:
    """amqtt's packet object for the packets its own handlers serve."""
    header = MQTTFixedHeader(first >> 4, first & 0x0F, len(body))
    return await packet_class(header).from_stream(BufferReader(body), fixed_header=header)


def _packet_id(body: bytes) -> int:
    if len(body) < 2:
        raise NoDataError("packet without a packet id")
    return int.from_bytes(body[:2], "big")


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_bytes(
    topic: str, data: bytes, qos: int, retain: bool, dup: bool, packet_id: int
) -> bytes:
    """One PUBLISH packet (MQTT 3.1.1 section 3.3)."""
    name = topic.encode()
    head = len(name).to_bytes(2, "big") + name
    if qos:
        head += packet_id.to_bytes(2, "big")
    flags = 0x30 | (0x08 if dup and qos else 0) | (qos << 1) | (0x01 if retain else 0)
    return bytes((flags,)) + _remaining_length(len(head) + len(data)) + head + data


async def _cancel_until_done(task: asyncio.Task[Any], stopped: asyncio.Event) -> None:
    """Re-cancel a reader that swallowed its cancellation, until it leaves its loop (after
    that it closes its connection, which must not be interrupted)."""
    while not task.done():
        await asyncio.sleep(0.1)
        if stopped.is_set():
            return
        task.cancel()


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
        may_receive: ReceiveCheck,
        acl: AclCheck,
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
        handler.on_overflow = self._count_overflow
        handler.route = self._received
        handler.on_unsent = self._queue_unsent
        handler.max_inflight = self.limits.max_inflight_messages
        handler.max_pending = self.limits.max_pending_messages
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

    def _count_overflow(self) -> None:
        self.counters.queue_overflow += 1

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
        return self._acl_check(session, topic, str(action))

    async def _run_broadcast(self, running_tasks: deque[asyncio.Task[Any]]) -> None:
        await self._route(await self._broadcast_queue.get(), running_tasks)

    async def _route(
        self, broadcast: dict[str, Any], running_tasks: deque[asyncio.Task[Any]]
    ) -> None:
        self._deliver(
            broadcast["topic"], broadcast["data"], broadcast.get("qos", broadcast.get(_PUBLISH_QOS))
        )

    def _received(self, session: Session, topic: str, data: bytes, qos: int, retain: bool) -> bool:
        """A PUBLISH read by a client's handler, routed at once (amqtt queued it for the
        session's message loop, then for the broadcast loop); False closes the connection."""
        if not topic or "#" in topic or "+" in topic or topic.startswith("$"):
            log.warning("%s published to the invalid topic %r", session.client_id, topic)
            return False
        self._fire_message_event(BrokerEvents.MESSAGE_RECEIVED, session, topic, data, qos, retain)
        if not self._acl_check(session, topic, _PUBLISH_ACTION):
            return True
        self._fire_message_event(BrokerEvents.MESSAGE_BROADCAST, session, topic, data, qos, retain)
        self._deliver(topic, data, qos)
        if retain:
            self._keep(asyncio.ensure_future(self.retain_message(session, topic, data, qos)))
        return True

    def _fire_message_event(
        self, event: BrokerEvents, session: Session, topic: str, data: bytes, qos: int, retain: bool
    ) -> None:
        """amqtt's per-message plugin event, only built when a plugin listens to it."""
        if not self._listened(event):
            return
        message = IncomingApplicationMessage(None, topic, qos, data, retain)
        event_fired = self.plugins_manager.fire_event(
            event, client_id=session.client_id, message=message
        )
        self._keep(asyncio.ensure_future(event_fired))

    def _keep(self, task: asyncio.Task[Any]) -> None:
        tasks: deque[asyncio.Task[Any]] = self._tasks_queue
        while tasks and tasks[0].done():
            _retrieve(tasks.popleft())
        tasks.append(task)

    def _deliver(self, topic: str, data: bytes, publish_qos: int | None) -> None:
        """Hand a message to each subscriber allowed to receive it (no task per delivery)."""
        for session, sub_qos in self._subscribers(topic).values():
            qos = sub_qos if publish_qos is None else min(publish_qos, sub_qos)
            if not self._may_receive_check(session, topic):
                continue
            if session.transitions.state == "connected":
                handler = self._get_handler(session)
                if isinstance(handler, _DeviceHandler):
                    handler.deliver(topic, data, qos)
            elif not session.clean_session and qos > 0:
                self._queue_offline(session, RetainedApplicationMessage(None, topic, data, qos))

    def _queue_unsent(self, session: Session, messages: list[tuple[str, bytes, int]]) -> None:
        """Messages a closed connection had not sent: kept for a persistent session."""
        if session.clean_session:
            return
        for topic, data, qos in messages:
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
        while isinstance(handler, _DeviceHandler) and not session.retained_messages.empty():
            queued = session.retained_messages.get_nowait()
            handler.deliver(queued.topic, queued.data, queued.qos)

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
        if not isinstance(handler, _DeviceHandler):
            return
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, topic_filter):
                continue
            if not self._may_receive_check(session, topic):
                continue
            qos = granted if retained.qos is None else min(granted, retained.qos)
            handler.deliver(topic, retained.data, qos, retain=True)

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        """Retained messages go out on SUBSCRIBE only (`_send_retained`), never on reconnect."""

    def _listened(self, event: BrokerEvents) -> bool:
        callbacks = getattr(self.plugins_manager, "_event_plugin_callbacks", None)
        return callbacks is None or event in callbacks


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("delivery to a client failed: %r", task.exception())


async def _close(writer: WriterAdapter) -> None:
    try:
        await writer.close()
    except (OSError, RuntimeError):
        log.debug("closing a refused connection failed", exc_info=True)
