"""A real embedded device broker on a free port, with a real device registry behind it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.devices.registry import DeviceRegistry
from appliance.mqtt.access import APPLIANCE_USERNAME, AccessPolicy
from appliance.mqtt.broker import EmbeddedBroker
from appliance.mqtt.metrics import BrokerCounters
from appliance.mqtt.settings import MqttSettings
from appliance.store import Database
from contracts.devices import DeviceType
from tests.appliance.mqtt.peers import Peer
from tests.conftest import free_port


@dataclass
class RunningBroker:
    port: int
    settings: MqttSettings
    broker: EmbeddedBroker
    policy: AccessPolicy
    registry: DeviceRegistry
    peers: list[Peer]

    @property
    def counters(self) -> BrokerCounters:
        return self.policy.counters

    async def provision(self, device_id: str, device_type: DeviceType = DeviceType.CLIMATE) -> str:
        return (await self.registry.provision(device_id, device_type)).secret

    def peer(self, client_id: str, *, port: int | None = None, **options: Any) -> Peer:
        """A paho client of this broker (another listener's `port`); stopped at teardown."""
        peer = Peer(port or self.port, client_id, **options)
        self.peers.append(peer)
        return peer

    def device(self, device_id: str, secret: str, **options: Any) -> Peer:
        return self.peer(device_id, username=device_id, password=secret, **options)

    def appliance(self, client_id: str = f"{APPLIANCE_USERNAME}-test", **options: Any) -> Peer:
        return self.peer(
            client_id,
            username=APPLIANCE_USERNAME,
            password=self.policy.appliance_secret,
            **options,
        )


MakeBroker = Callable[..., Awaitable[RunningBroker]]


@pytest.fixture
async def make_broker(tmp_path: Path) -> AsyncIterator[MakeBroker]:
    """Start embedded brokers (settings overridable); stopped at teardown."""
    db = Database(tmp_path / "appliance.db")
    await db.open()
    registry = DeviceRegistry(db)
    running: list[RunningBroker] = []

    async def make(**overrides: Any) -> RunningBroker:
        settings = MqttSettings(host="127.0.0.1", port=free_port(), **overrides)
        policy = AccessPolicy(registry, root=settings.root, counters=BrokerCounters())
        broker = EmbeddedBroker(settings, policy)
        await broker.start()
        started = RunningBroker(settings.port, settings, broker, policy, registry, [])
        running.append(started)
        return started

    yield make
    for started in running:
        for peer in started.peers:
            await peer.close()
        await started.broker.stop()
    await db.close()


@pytest.fixture
async def broker(make_broker: MakeBroker) -> RunningBroker:
    return await make_broker()


MOSQUITTO_PORT = 1883


@dataclass
class BrokerUnderTest:
    """One broker behind the behaviour suite: the embedded one or the machine's Mosquitto.

    Peers of the embedded broker log in as the appliance (full topic rights), so the suite
    checks broker behaviour, not the ACL; each test uses its own topic prefix and client ids.
    """

    name: str
    port: int
    prefix: str
    credentials: tuple[str, str] | None
    peers: list[Peer]

    def peer(self, name: str, **options: Any) -> Peer:
        username, password = self.credentials or (None, None)
        peer = Peer(
            self.port, self.client_id(name), username=username, password=password, **options
        )
        self.peers.append(peer)
        return peer

    def client_id(self, name: str) -> str:
        return f"{APPLIANCE_USERNAME}-{self.prefix}-{name}"

    def topic(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"


@pytest.fixture(params=["embedded", "mosquitto"])
async def broker_under_test(
    request: pytest.FixtureRequest, make_broker: MakeBroker
) -> AsyncIterator[BrokerUnderTest]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "embedded":
        running = await make_broker()
        target = BrokerUnderTest(
            "embedded",
            running.port,
            prefix,
            (APPLIANCE_USERNAME, running.policy.appliance_secret),
            running.peers,
        )
    else:
        target = BrokerUnderTest("mosquitto", MOSQUITTO_PORT, prefix, None, [])
    yield target
    for peer in target.peers:
        await peer.close()


@dataclass(frozen=True)
class Certificates:
    cafile: Path
    certfile: Path
    keyfile: Path


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 / localhost."""
    directory = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("byre test CA"))
        .issuer_name(name("byre test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())

    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.cafile.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths
