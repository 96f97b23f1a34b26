"""The three real brokers for the chaos test, each with its own way of going down mid-stream.

Kafka (tansu) is a process the test owns: the outage kills it and starts it again on the same
port. RabbitMQ and NATS are the machine's services, which a test must not stop: central
reaches them through a chaos proxy, and the outage takes that proxy down (every connection
reset, new ones refused) and brings it back.

HQ's side is a `Probe` from the bus suite, connected straight to the broker, recording every
raw message; the test deduplicates by the event id header, as any consumer must.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from bench.chaos_proxy import ChaosProxy
from contracts.bus import HEADER_EVENT_ID
from sync_server.bus.settings import BusSettings, RelaySettings
from tests.conftest import free_port
from tests.sync_server.bus.brokers import (
    NATS_PORT,
    RABBITMQ_PORT,
    BrokerCase,
    KafkaCase,
    NatsCase,
    Probe,
    RabbitMQCase,
    Received,
)
from tests.sync_server.bus.conftest import TANSU, require_service

RELAY = RelaySettings(
    batch_size=200, poll_interval_s=0.05, retry_min_s=0.05, retry_max_s=1.0, publish_timeout_s=30
)

Quiesce = Callable[[], Awaitable[None]]
"""Stops new events reaching central (until `go_down` returns) and waits until the probes saw
every stored event."""


@dataclass
class BusUnderTest(ABC):
    case: BrokerCase
    probes: list[Probe] = field(default_factory=list)
    forgets: ClassVar[bool] = False
    """The outage loses what the broker held (its topics too)."""

    @property
    def kind(self) -> str:
        return self.case.kind

    def settings(self) -> BusSettings:
        return self.case.settings(consume_commands=False).model_copy(update={"relay": RELAY})

    def received(self) -> list[Received]:
        return [m for probe in self.probes for m in probe.received]

    def ids(self) -> set[str]:
        return {m.headers[HEADER_EVENT_ID] for m in self.received()}

    async def open_probe(self) -> None:
        self.probes.append(await self.case.open_probe())

    @abstractmethod
    async def go_down(self, quiesce: Quiesce) -> None:
        """Take the broker away from central."""

    @abstractmethod
    async def come_back(self) -> None: ...

    async def close(self) -> None:
        for probe in self.probes:
            await probe.close()
        await self.case.cleanup()


@dataclass
class _Port:
    """What `KafkaCase` needs of a proxy: the port clients connect to."""

    port: int

    def restore(self) -> None:
        """Nothing to restore: Kafka clients talk to tansu directly."""


class KafkaBus(BusUnderTest):
    """A tansu process on a fixed port; its storage is memory, so a kill loses what it held.

    The outage therefore first lets the probe read everything published (with the appliance
    link down, so nothing new arrives), then kills the broker; only then is the link restored
    (an event relayed to the old broker after the probe closed would be lost): events keep
    arriving at central while the broker is away. After the restart a fresh probe reads the
    new broker from its start.
    """

    forgets = True

    def __init__(self, uid: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        super().__init__(KafkaCase(uid, _Port(self.port)))  # type: ignore[arg-type]

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                str(TANSU),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.port}",
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        for _ in range(200):
            if await _answers(self.port):
                return
            assert self.process.returncode is None, self.log.read_text()[-2000:]
            await asyncio.sleep(0.05)
        raise AssertionError(f"tansu did not start on {self.port}: {self.log.read_text()[-2000:]}")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def go_down(self, quiesce: Quiesce) -> None:
        await quiesce()
        for probe in self.probes:
            await probe.close()
        await self.kill()

    async def come_back(self) -> None:
        await self.start()
        await self.open_probe()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.kill()


class ProxiedBus(BusUnderTest):
    """A machine service reached by central through a chaos proxy that the outage takes down."""

    def __init__(self, case: BrokerCase, proxy: ChaosProxy) -> None:
        super().__init__(case)
        self.proxy = proxy

    async def go_down(self, quiesce: Quiesce) -> None:
        await self.proxy.down()

    async def come_back(self) -> None:
        self.proxy.up()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.proxy.stop()


async def open_bus(kind: str, uid: str, tmp_path: Path) -> BusUnderTest:
    """The broker `kind`, started or reached, with a first probe subscribed."""
    bus: BusUnderTest
    if kind == "kafka":
        bus = KafkaBus(uid, tmp_path / "tansu.log")
        await bus.start()
    elif kind == "rabbitmq":
        require_service("RabbitMQ", RABBITMQ_PORT, "e.g. `service rabbitmq-server start`")
        proxy = await ChaosProxy(RABBITMQ_PORT).start()
        bus = ProxiedBus(RabbitMQCase(uid, proxy), proxy)  # type: ignore[arg-type]
    else:
        require_service("NATS", NATS_PORT, "nats-server with JetStream: `nats-server -js`")
        proxy = await ChaosProxy(NATS_PORT).start()
        bus = ProxiedBus(NatsCase(uid, proxy), proxy)  # type: ignore[arg-type]
    await bus.open_probe()
    return bus


async def _answers(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True
