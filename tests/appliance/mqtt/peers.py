"""MQTT peers for broker tests: paho-mqtt clients and a raw-socket device that goes silent."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import eventually


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool


@dataclass
class Peer:
    """A paho-mqtt client on its own network thread; every wait is async and bounded."""

    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    clean_session: bool = True
    will: tuple[str, bytes, int, bool] | None = None
    manual_ack: bool = False
    transport: str = "tcp"
    cafile: Path | None = None
    messages: list[Received] = field(default_factory=list)
    connect_result: int | None = None
    granted: dict[int, list[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=self.clean_session,
            manual_ack=self.manual_ack,
            transport=self.transport,  # type: ignore[arg-type]
        )
        if self.username is not None:
            self.client.username_pw_set(self.username, self.password)
        if self.will is not None:
            topic, payload, qos, retain = self.will
            self.client.will_set(topic, payload, qos, retain)
        if self.cafile is not None:
            self.client.tls_set(ca_certs=str(self.cafile), cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connect_result = 0 if not reason_code.is_failure else int(reason_code.value)

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(
                Received(message.topic, message.payload, message.qos, message.retain, message.dup)
            )

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.granted[mid] = [int(rc.value) for rc in reason_codes]

    async def connect(self, keepalive: int = 60) -> bool:
        """Connect and wait for CONNACK; True if the broker accepted the login."""
        self.connect_result = None
        await asyncio.to_thread(self.client.connect, "127.0.0.1", self.port, keepalive)
        self._start_network()

        async def answered() -> bool:
            return self.connect_result is not None

        await eventually(answered)
        if self.connect_result != 0:
            await self._stop_network()
        return self.connect_result == 0

    def _start_network(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._network, daemon=True)
        self._thread.start()

    def _network(self) -> None:
        # Our own loop (not loop_start) so the tests can stop it within 50 ms.
        while not self._stop.is_set():
            if self.client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                return

    async def _stop_network(self) -> None:
        stop, thread = getattr(self, "_stop", None), getattr(self, "_thread", None)
        if stop is not None and thread is not None:
            stop.set()
            await asyncio.to_thread(thread.join, 5)

    async def subscribe(self, topic: str, qos: int = 1) -> int:
        """Subscribe; the granted QoS, or 128 when the broker refused."""
        _, mid = self.client.subscribe(topic, qos)
        assert mid is not None

        async def acked() -> bool:
            return mid in self.granted

        await eventually(acked)
        return self.granted[mid][0]

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        await asyncio.to_thread(info.wait_for_publish, 5)

    async def received(self, count: int, seconds: float = 10.0) -> list[Received]:
        async def enough() -> bool:
            return len(self.messages) >= count

        await eventually(enough, seconds)
        return list(self.messages)

    async def disconnect(self) -> None:
        self.client.disconnect()  # the network thread sends it, then ends
        thread = getattr(self, "_thread", None)
        if thread is not None:
            await asyncio.to_thread(thread.join, 5)

    async def close(self) -> None:
        """Stop the network thread and close the socket, whatever state the client is in."""
        await self._stop_network()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    async def drop(self) -> None:
        """Lose the connection without DISCONNECT, like a device losing its network."""
        await self.close()

    async def go_silent(self) -> None:
        """Stop sending anything (no pings) while the connection stays open."""
        await self._stop_network()


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(
    client_id: str,
    *,
    username: str | None,
    password: str | None,
    keepalive: int,
    will: tuple[str, bytes] | None = None,
    clean: bool = True,
) -> bytes:
    """An MQTT 3.1.1 CONNECT (will at QoS 1, retained)."""
    flags = 0x02 if clean else 0x00
    payload = _string(client_id.encode())
    if will is not None:
        flags |= 0x04 | 0x08 | 0x20
        payload += _string(will[0].encode()) + _string(will[1])
    if username is not None and password is not None:
        flags |= 0x80 | 0x40
        payload += _string(username.encode()) + _string(password.encode())
    body = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


def publish_header(topic: str, payload_length: int) -> bytes:
    """The start of a QoS 0 PUBLISH announcing `payload_length` bytes of payload."""
    variable = _string(topic.encode())
    return bytes([0x30]) + _remaining_length(len(variable) + payload_length) + variable


@dataclass(frozen=True)
class RawPublish:
    topic: str
    payload: bytes
    qos: int
    dup: bool
    packet_id: int | None


class RawClient:
    """A byte-level MQTT client for flows paho completes on its own (QoS 2 without PUBREC)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    async def connect(self, packet: bytes) -> bytes:
        def run() -> bytes:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock.sendall(packet)
            self.sock = sock
            return self._connack()

        return await asyncio.to_thread(run)

    def _connack(self) -> bytes:
        header, body = self._read_packet()
        return bytes([header, len(body)]) + body

    def _recv_exactly(self, n: int) -> bytes:
        assert self.sock is not None
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("connection closed")
            data += chunk
        return data

    def _read_packet(self) -> tuple[int, bytes]:
        header = self._recv_exactly(1)[0]
        length, multiplier = 0, 1
        while True:
            byte = self._recv_exactly(1)[0]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            if not byte & 0x80:
                break
        return header, self._recv_exactly(length)

    async def subscribe(self, topic: str, qos: int) -> bytes:
        body = struct.pack("!H", 1) + _string(topic.encode()) + bytes([qos])
        packet = bytes([0x82]) + _remaining_length(len(body)) + body

        def run() -> bytes:
            assert self.sock is not None
            self.sock.sendall(packet)
            return self._read_packet()[1]

        return await asyncio.to_thread(run)

    async def next_publish(self) -> RawPublish:
        def run() -> RawPublish:
            while True:
                header, body = self._read_packet()
                if header >> 4 == 3:
                    break
            qos = (header >> 1) & 0x03
            length = struct.unpack("!H", body[:2])[0]
            topic = body[2 : 2 + length].decode()
            rest = body[2 + length :]
            packet_id = struct.unpack("!H", rest[:2])[0] if qos else None
            return RawPublish(topic, rest[2:] if qos else rest, qos, bool(header & 0x08), packet_id)

        return await asyncio.to_thread(run)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class SilentDevice:
    """Logs in over a raw socket, then never sends another byte (power lost, link up)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    async def connect(self, packet: bytes) -> bytes:
        def run() -> bytes:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(packet)
            self.sock = sock
            return sock.recv(4)

        return await asyncio.to_thread(run)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class SlowSubscriber:
    """An asyncio byte-level subscriber that acknowledges QoS 1 messages only when told to."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, packet: bytes) -> bytes:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(packet)
        header, body = await self._read_packet()
        return bytes([header, len(body)]) + body

    async def _read_packet(self) -> tuple[int, bytes]:
        assert self.reader is not None
        header = (await self.reader.readexactly(1))[0]
        length, multiplier = 0, 1
        while True:
            byte = (await self.reader.readexactly(1))[0]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            if not byte & 0x80:
                break
        return header, await self.reader.readexactly(length)

    async def subscribe(self, topic: str, qos: int) -> bytes:
        assert self.writer is not None
        body = struct.pack("!H", 1) + _string(topic.encode()) + bytes([qos])
        self.writer.write(bytes([0x82]) + _remaining_length(len(body)) + body)
        return (await self._read_packet())[1]

    async def next_publish(self, seconds: float = 10.0) -> RawPublish:
        """The next PUBLISH (not acknowledged); TimeoutError when none comes in `seconds`."""
        async with asyncio.timeout(seconds):
            while True:
                header, body = await self._read_packet()
                if header >> 4 == 3:
                    break
        qos = (header >> 1) & 0x03
        length = struct.unpack("!H", body[:2])[0]
        topic = body[2 : 2 + length].decode()
        rest = body[2 + length :]
        packet_id = struct.unpack("!H", rest[:2])[0] if qos else None
        return RawPublish(topic, rest[2:] if qos else rest, qos, bool(header & 0x08), packet_id)

    def acknowledge(self, message: RawPublish) -> None:
        assert self.writer is not None
        assert message.packet_id is not None
        self.writer.write(b"\x40\x02" + struct.pack("!H", message.packet_id))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
