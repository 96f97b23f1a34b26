"""A small MQTT 3.1.1 client for devices (the `umqtt.simple` API, plus QoS 1 acks).

MicroPython-compatible: only `socket`, `select`, `struct` and `time`; no typing imports.
Blocking calls carry a timeout; `check_msg` never blocks.
"""

import select
import socket
import struct
import time


class MQTTException(Exception):
    pass


def _encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n % 128
        n = n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


class MessageSink:
    """Receives the messages of a client's subscriptions."""

    def on_message(self, topic: str, payload: bytes, retain: bool, dup: bool) -> None:
        pass


class MQTTClient:
    """One connection to the broker; messages go to `sink.on_message`."""

    def __init__(
        self,
        client_id: str,
        server: str,
        port: int = 1883,
        user: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
    ) -> None:
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.sink = MessageSink()
        self.will: tuple[str, bytes, bool, int] | None = None
        self.sock: socket.socket | None = None
        self.poller: select.poll | None = None
        self.packet_id = 0
        self.last_sent = 0.0
        self.last_received = 0.0
        self.timeout = 5.0

    def set_sink(self, sink: MessageSink) -> None:
        self.sink = sink

    def set_last_will(self, topic: str, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        self.will = (topic, msg, retain, qos)

    def connect(self, clean_session: bool = True) -> bool:
        """Open the connection and log in; returns whether the broker kept a session."""
        address = socket.getaddrinfo(self.server, self.port)[0][-1]
        sock = socket.socket()
        sock.settimeout(self.timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        flags = 0x02 if clean_session else 0
        payload = _string(self.client_id)
        if self.will is not None:
            topic, msg, retain, qos = self.will
            flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
            payload += _string(topic) + _string(msg)
        if self.user is not None:
            flags |= 0x80
            payload += _string(self.user)
            if self.password is not None:
                flags |= 0x40
                payload += _string(self.password)
        body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive) + payload
        self._send(0x10, body)
        kind, data = self._read_packet()
        if kind != 0x20 or len(data) != 2:
            self.close()
            raise MQTTException("no CONNACK")
        if data[1] != 0:
            self.close()
            raise MQTTException("login refused: " + str(data[1]))
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)
        return bool(data[0] & 1)

    def publish(self, topic: str, msg: str | bytes, retain: bool = False, qos: int = 0) -> None:
        """Publish; at QoS 1 wait for the broker's PUBACK (handling messages meanwhile)."""
        body = _string(topic)
        packet_id = 0
        if qos:
            packet_id = self._next_id()
            body += struct.pack("!H", packet_id)
        data = msg.encode() if isinstance(msg, str) else msg
        self._send(0x30 | (qos << 1) | (1 if retain else 0), body + data)
        if qos:
            self._wait_for(0x40, packet_id)

    def subscribe(self, topic: str, qos: int = 1) -> int:
        """Subscribe and wait for SUBACK; returns the granted QoS (0x80 when refused)."""
        packet_id = self._next_id()
        self._send(0x82, struct.pack("!H", packet_id) + _string(topic) + bytes([qos]))
        data = self._wait_for(0x90, packet_id)
        return data[2]

    def ping(self) -> None:
        self._send(0xC0, b"")

    def check_msg(self) -> None:
        """Handle every packet already received; never blocks for long."""
        while self.sock is not None and self.poller is not None and self.poller.poll(0):
            kind, data = self._read_packet()
            self._handle(kind, data)

    def idle_for(self, now: float) -> float:
        """Seconds since the last packet sent."""
        return now - self.last_sent

    def silent_for(self, now: float) -> float:
        """Seconds since the last packet received."""
        return now - self.last_received

    def disconnect(self) -> None:
        if self.sock is not None:
            try:  # noqa: SIM105 - MicroPython has no contextlib
                self._send(0xE0, b"")
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:  # noqa: SIM105 - MicroPython has no contextlib
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.poller = None

    # --- packets -------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self.packet_id = self.packet_id % 65535 + 1
        return self.packet_id

    def _send(self, header: int, body: bytes) -> None:
        if self.sock is None:
            raise OSError("not connected")
        self.sock.sendall(bytes([header]) + _encode_length(len(body)) + body)
        self.last_sent = time.time()

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            if self.sock is None:
                raise OSError("not connected")
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise OSError("connection closed by the broker")
            data += chunk
        return data

    def _read_packet(self) -> tuple[int, bytes]:
        header = self._recv(1)[0]
        length = 0
        shift = 0
        while True:
            byte = self._recv(1)[0]
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MQTTException("bad remaining length")
        self.last_received = time.time()
        return header, self._recv(length) if length else b""

    def _wait_for(self, kind: int, packet_id: int) -> bytes:
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            header, data = self._read_packet()
            if header & 0xF0 == kind and struct.unpack("!H", data[:2])[0] == packet_id:
                return data
            self._handle(header, data)
        raise MQTTException("no answer from the broker")

    def _handle(self, header: int, data: bytes) -> None:
        kind = header & 0xF0
        if kind == 0x60:  # PUBREL of an incoming QoS 2 message
            self._send(0x70, data[:2])
            return
        if kind != 0x30:
            return  # PINGRESP and late acks need nothing
        qos = (header >> 1) & 0x03
        length = struct.unpack("!H", data[:2])[0]
        topic = data[2 : 2 + length].decode()
        rest = data[2 + length :]
        packet_id = 0
        if qos:
            packet_id = struct.unpack("!H", rest[:2])[0]
            rest = rest[2:]
        self.sink.on_message(topic, rest, bool(header & 0x01), bool(header & 0x08))
        if qos == 1:
            self._send(0x40, struct.pack("!H", packet_id))
        elif qos == 2:
            self._send(0x50, struct.pack("!H", packet_id))
