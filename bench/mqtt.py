"""Device load on the embedded broker, then the same load on the machine's Mosquitto.

    python -m bench.mqtt [--devices 500] [--seconds 20]

While a camera load runs in another process (two 1280x720 cameras at 10 fps through the
camera health analysis and motion gate of `appliance/camera`), each of N devices logs in
with its own credentials (ACLs on) and publishes a 1 msg/s QoS 1 telemetry sample; every
5 s, 50 devices burst 10 messages each. A subscriber logged in as the appliance measures
publish-to-deliver latency, counts what never arrived, and times each burst from its first
send to the arrival of its last message (burst drain). Then one client floods 200-byte
QoS 0 messages for a few seconds and the subscriber's receive rate is the flood throughput.
The embedded broker runs in its own process (the appliance runs it inside its own process,
next to the web server and pipelines: see docs/adr/0005-device-broker.md); device hashes use a cheap
scrypt cost so that setting up 500 devices takes seconds (logins still verify them).

Last line: `BENCH mqtt devices=<n> p99_ms=<embedded p99 publish-to-deliver> lost=<n>
amqtt_flood_msgs_s=<..> mosquitto_flood_msgs_s=<..> ratio=<amqtt/mosquitto>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

MOSQUITTO = ("127.0.0.1", 1883)
BURST_EVERY_S = 5.0
BURST_DEVICES = 50
BURST_SIZE = 10
FLOOD_S = 5.0
FLOOD_PAYLOAD = 200


# --- a small asyncio MQTT client (cheap enough to run hundreds in one loop) ---------------------


def _string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(header: int, body: bytes) -> bytes:
    return bytes([header]) + _length(len(body)) + body


@dataclass
class Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    on_message: Callable[[str, bytes], None] | None = None
    packet_id: int = 0
    acked: int = 0
    task: asyncio.Task[None] | None = None
    subacks: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)

    @classmethod
    async def connect(
        cls, address: tuple[str, int], client_id: str, username: str | None, password: str | None
    ) -> Client:
        reader, writer = await asyncio.open_connection(*address)
        flags, payload = 0x02, _string(client_id)
        if username is not None and password is not None:
            flags |= 0xC0
            payload += _string(username) + _string(password)
        body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", 120) + payload
        writer.write(_packet(0x10, body))
        connack = await reader.readexactly(4)
        if connack[3] != 0:
            raise ConnectionError(f"{client_id}: login refused ({connack[3]})")
        client = cls(reader, writer)
        client.task = asyncio.create_task(client._read())
        return client

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        body = _string(topic)
        if qos:
            self.packet_id = self.packet_id % 65535 + 1
            body += struct.pack("!H", self.packet_id)
        self.writer.write(_packet(0x30 | (qos << 1), body + payload))

    async def subscribe(self, topic_filter: str, qos: int) -> None:
        self.writer.write(
            _packet(0x82, struct.pack("!H", 1) + _string(topic_filter) + bytes([qos]))
        )
        granted = await self.subacks.get()
        if granted[-1] == 0x80:
            raise ConnectionError(f"subscription to {topic_filter} refused")

    async def _read(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                header = (await self.reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    byte = (await self.reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await self.reader.readexactly(length)
                kind = header & 0xF0
                if kind == 0x40:
                    self.acked += 1
                elif kind == 0x90:
                    self.subacks.put_nowait(body)
                elif kind == 0x30:
                    qos = (header >> 1) & 3
                    size = struct.unpack("!H", body[:2])[0]
                    topic = body[2 : 2 + size].decode()
                    rest = body[2 + size :]
                    if qos:
                        self.writer.write(_packet(0x40, rest[:2]))
                        rest = rest[2:]
                    if self.on_message is not None:
                        self.on_message(topic, rest)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.writer.write(_packet(0xE0, b""))
            self.writer.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


# --- the embedded broker in its own process ----------------------------------------------------


async def serve_broker(port: int, directory: Path) -> None:
    """Run the appliance's embedded broker on `port` until SIGTERM (child process)."""
    from appliance.devices.registry import DeviceRegistry
    from appliance.mqtt.access import AccessPolicy
    from appliance.mqtt.broker import EmbeddedBroker
    from appliance.mqtt.metrics import BrokerCounters
    from appliance.mqtt.settings import MqttSettings
    from appliance.store import Database

    db = Database(directory / "appliance.db")
    await db.open()
    registry = DeviceRegistry(db)
    settings = MqttSettings(host="127.0.0.1", port=port)
    policy = AccessPolicy(registry, root=settings.root, counters=BrokerCounters())
    broker = EmbeddedBroker(settings, policy)
    await broker.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"appliance_secret": policy.appliance_secret}), flush=True)
    await stop.wait()
    await broker.stop()
    await db.close()


async def provision(directory: Path, count: int) -> dict[str, str]:
    """Devices with secrets; hashes at a cheap scrypt cost (2^10) to set 500 up quickly."""
    from appliance.devices.credentials import hash_secret
    from appliance.store import Database

    db = Database(directory / "appliance.db")
    await db.open()
    devices = {f"bench-{n}": secrets.token_urlsafe(24) for n in range(count)}
    now = datetime.now(UTC).isoformat()
    async with db.transaction() as conn:
        for device_id, secret in devices.items():
            await conn.execute(
                "INSERT INTO devices (device_id, device_type, secret_hash, created_at,"
                " secret_set_at) VALUES (?, 'climate', ?, ?, ?)",
                (device_id, hash_secret(secret, log2_n=10), now, now),
            )
    await db.close()
    return devices


# --- camera load -------------------------------------------------------------------------------


def camera_load() -> None:
    """Two cameras at 10 fps through the camera analysis (child process, until killed)."""
    from appliance.camera import CameraSettings
    from appliance.camera.analysis import FrameAnalyzer
    from bench.motion_gate import make_frames

    frames = make_frames(20)
    analyzers = [FrameAnalyzer(CameraSettings(id=f"cam{n}", url="/dev/null.mp4")) for n in range(2)]
    clock = 0.0
    while True:
        started = time.perf_counter()
        for frame in frames:
            clock += 0.1
            for analyzer in analyzers:
                analyzer.analyze(frame, clock)
            time.sleep(max(0.1 - (time.perf_counter() - started), 0))
            started = time.perf_counter()


# --- one run against one broker ----------------------------------------------------------------


@dataclass
class Result:
    latencies_ms: list[float]
    published: int
    lost: int
    flood_msgs_s: float
    burst_drain_ms: list[float]


async def device_load(
    address: tuple[str, int], root: str, devices: dict[str, str | None], seconds: float
) -> int:
    """Publish the device load (child process); returns how many messages were sent."""
    clients: dict[str, Client] = {}
    for start in range(0, len(devices), 50):
        batch = list(devices.items())[start : start + 50]
        connected = await asyncio.gather(
            *(Client.connect(address, d, d if s else None, s) for d, s in batch)
        )
        clients.update(zip((d for d, _ in batch), connected, strict=True))
    print("connected", flush=True)
    counters = dict.fromkeys(clients, 0)

    def send(device_id: str, burst: int = -1) -> None:
        n = counters[device_id]
        counters[device_id] = n + 1
        body = json.dumps({"d": device_id, "n": n, "t": time.time(), "b": burst, "pad": "x" * 70})
        clients[device_id].publish(f"{root}/dev/{device_id}/telemetry", body.encode(), 1)

    names = list(clients)
    began = time.monotonic()
    next_burst = began + BURST_EVERY_S
    tick = bursts = 0
    while time.monotonic() - began < seconds:
        for device_id in names[tick % 10 :: 10]:  # each device once a second, spread out
            send(device_id)
        if time.monotonic() >= next_burst:
            for device_id in names[:BURST_DEVICES]:
                for _ in range(BURST_SIZE):
                    send(device_id, bursts)
            bursts += 1
            names = names[BURST_DEVICES:] + names[:BURST_DEVICES]
            next_burst += BURST_EVERY_S
        tick += 1
        await asyncio.sleep(max(began + tick * 0.1 - time.monotonic(), 0))
    await asyncio.sleep(2.0)  # let PUBACKs come in before the connections close
    for device in clients.values():
        await device.close()
    return sum(counters.values())


async def run_load(
    address: tuple[str, int],
    root: str,
    devices: dict[str, str | None],
    appliance: tuple[str, str | None, str | None],
    seconds: float,
) -> Result:
    received: dict[tuple[str, int], float] = {}
    bursts: dict[int, tuple[float, float]] = {}  # burst -> (first sent, last received)

    def on_message(topic: str, payload: bytes) -> None:
        message = json.loads(payload)
        now = time.time()
        received[(message["d"], message["n"])] = (now - message["t"]) * 1000
        if message["b"] >= 0:
            sent, last = bursts.get(message["b"], (message["t"], now))
            bursts[message["b"]] = (min(sent, message["t"]), max(last, now))

    client_id, username, password = appliance
    subscriber = await Client.connect(address, client_id, username, password)
    subscriber.on_message = on_message
    await subscriber.subscribe(f"{root}/dev/+/telemetry", 1)
    load = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.mqtt",
        "--load",
        json.dumps({"address": address, "root": root, "devices": devices, "seconds": seconds}),
        stdout=asyncio.subprocess.PIPE,
    )
    assert load.stdout is not None
    lines = (await load.stdout.read()).decode().split()
    await load.wait()
    published = int(lines[-1])
    for _ in range(200):
        if len(received) >= published:
            break
        await asyncio.sleep(0.05)
    flood = await run_flood(address, root, subscriber, appliance)
    await subscriber.close()
    drain_ms = [(last - sent) * 1000 for sent, last in bursts.values()]
    return Result(list(received.values()), published, published - len(received), flood, drain_ms)


async def run_flood(
    address: tuple[str, int],
    root: str,
    subscriber: Client,
    appliance: tuple[str, str | None, str | None],
) -> float:
    arrivals: list[float] = []
    subscriber.on_message = lambda topic, payload: arrivals.append(time.monotonic())
    await subscriber.subscribe(f"{root}/flood", 0)
    client_id, username, password = appliance
    flooder = await Client.connect(address, f"{client_id}-flood", username, password)
    payload = b"x" * FLOOD_PAYLOAD
    began = time.monotonic()
    while time.monotonic() - began < FLOOD_S:
        for _ in range(100):
            flooder.publish(f"{root}/flood", payload, 0)
        await flooder.writer.drain()
        await asyncio.sleep(0)
    await asyncio.sleep(1.0)
    await flooder.close()
    if len(arrivals) < 2:
        return 0.0
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values, default=0)


async def main(count: int, seconds: float) -> None:
    camera = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.mqtt", "--camera")
    directory = Path(tempfile.mkdtemp(prefix="byre-bench-mqtt-"))
    try:
        secrets_by_device = await provision(directory, count)
        port = _free_port()
        broker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.mqtt",
            "--serve",
            str(port),
            str(directory),
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert broker.stdout is not None
            ready = json.loads(await asyncio.wait_for(broker.stdout.readline(), 60))
            embedded = await run_load(
                ("127.0.0.1", port),
                "byre",
                dict(secrets_by_device),
                ("_appliance-bench", "_appliance", ready["appliance_secret"]),
                seconds,
            )
        finally:
            broker.send_signal(signal.SIGTERM)
            await broker.wait()
        root = f"bench{os.getpid()}"
        mosquitto = await run_load(
            MOSQUITTO,
            root,
            {f"{root}-{d}": None for d in secrets_by_device},
            (f"{root}-appliance", None, None),
            seconds,
        )
    finally:
        camera.kill()
        await camera.wait()
    for name, result in (("embedded amqtt", embedded), ("mosquitto", mosquitto)):
        print(
            f"{name}: {result.published} messages from {count} devices in {seconds:.0f} s, "
            f"p50 {statistics.median(result.latencies_ms or [0]):.1f} ms, "
            f"p99 {p99(result.latencies_ms):.1f} ms, lost {result.lost}, "
            f"flood {result.flood_msgs_s:.0f} msg/s, burst drain median "
            f"{statistics.median(result.burst_drain_ms or [0]):.0f} ms max "
            f"{max(result.burst_drain_ms, default=0):.0f} ms"
        )
    ratio = embedded.flood_msgs_s / mosquitto.flood_msgs_s if mosquitto.flood_msgs_s else 0.0
    print(
        f"BENCH mqtt devices={count} p99_ms={p99(embedded.latencies_ms):.1f} lost={embedded.lost} "
        f"amqtt_flood_msgs_s={embedded.flood_msgs_s:.0f} "
        f"mosquitto_flood_msgs_s={mosquitto.flood_msgs_s:.0f} ratio={ratio:.2f}"
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--camera", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        spec = json.loads(args.load)
        sent = asyncio.run(
            device_load(tuple(spec["address"]), spec["root"], spec["devices"], spec["seconds"])
        )
        print(sent, flush=True)
    elif args.camera:
        with contextlib.suppress(KeyboardInterrupt):
            camera_load()
    elif args.serve:
        asyncio.run(serve_broker(int(args.serve[0]), Path(args.serve[1])))
    else:
        asyncio.run(main(args.devices, args.seconds))
