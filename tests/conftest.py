"""Shared fixtures: free ports, real central and appliance servers on loopback, databases."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from aiohttp import web

from appliance.app import create_app as create_appliance_app
from appliance.settings import ApplianceSettings, HttpSettings, MqttSettings, SyncSettings
from bench.postgres import temporary_database
from sync_server.app import create_app as create_central_app
from sync_server.settings import CentralSettings

POSTGRES_DSN = os.environ.get("BYRE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN_TOKEN = "test-admin-token"
API_TOKEN = "test-api-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def _no_byre_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from the developer's shell."""
    for key in list(os.environ):
        if key.startswith(("BYRE_APPLIANCE_", "BYRE_CENTRAL_")):
            monkeypatch.delenv(key)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every central test that takes this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'central.db'}"
        return
    async with temporary_database(POSTGRES_DSN, "byre_test_") as url:
        yield url


@dataclass
class RunningCentral:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def start_central(
    database_url: str, port: int | None = None, **overrides: object
) -> RunningCentral:
    settings = CentralSettings(
        environment="production",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port or free_port(),
        **overrides,  # type: ignore[arg-type]
    )
    config = uvicorn.Config(
        create_central_app(settings),
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    assert server.started, "central did not start"
    return RunningCentral(f"http://127.0.0.1:{settings.port}", server, task)


MakeCentral = Callable[..., Awaitable[RunningCentral]]


@pytest.fixture
async def make_central() -> AsyncIterator[MakeCentral]:
    """Start real central servers (uvicorn on loopback); all are stopped at teardown."""
    running: list[RunningCentral] = []

    async def make(
        database_url: str, port: int | None = None, **overrides: object
    ) -> RunningCentral:
        central = await start_central(database_url, port, **overrides)
        running.append(central)
        return central

    yield make
    for central in running:
        if not central.task.done():
            await central.stop()


@dataclass
class RunningAppliance:
    url: str
    app: web.Application
    runner: web.AppRunner
    settings: ApplianceSettings


def make_appliance_settings(data_dir: Path, **overrides: object) -> ApplianceSettings:
    values: dict[str, object] = {
        "environment": "production",
        "name": "test-appliance",
        "data_dir": data_dir,
        "api_token": API_TOKEN,
        "http": HttpSettings(host="127.0.0.1", port=free_port()),
        "mqtt": MqttSettings(host="127.0.0.1", port=free_port()),
        "sync": SyncSettings(
            idle_interval_s=0.5, retry_min_s=0.1, retry_max_s=0.5, desired_wait_s=2.0
        ),
    }
    values.update(overrides)
    return ApplianceSettings(**values)  # type: ignore[arg-type]


MakeAppliance = Callable[..., Awaitable[RunningAppliance]]


@pytest.fixture
async def make_appliance(tmp_path: Path) -> AsyncIterator[MakeAppliance]:
    """Start real appliances (aiohttp on loopback, embedded broker); stopped at teardown."""
    running: list[RunningAppliance] = []

    async def make(data_dir: Path | None = None, **overrides: object) -> RunningAppliance:
        settings = make_appliance_settings(data_dir or tmp_path / "appliance", **overrides)
        app = create_appliance_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.http.port).start()
        appliance = RunningAppliance(
            f"http://127.0.0.1:{settings.http.port}", app, runner, settings
        )
        running.append(appliance)
        return appliance

    yield make
    for appliance in running:
        await appliance.runner.cleanup()


MODEL_TIMEOUT_S = 300
"""Timeout of a test that loads the shipped model: the first one in a session waits for
`shipped_model_cache` to compile it (a minute or two on a busy machine)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_model = "shipped_model_cache" in getattr(item, "fixturenames", ())
        if uses_model and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(MODEL_TIMEOUT_S))


@pytest.fixture(scope="session")
def shipped_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped detector's converted and compiled model cache, one for the whole run, ready
    before the first runner with a load deadline uses it (see tests/model_cache.py)."""
    from tests.model_cache import session_cache  # OpenVINO: only for sessions that need it

    return session_cache(tmp_path_factory.getbasetemp() / "shipped-model-cache")


async def eventually(predicate: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll `predicate` every 50 ms until it holds; fail after `seconds`."""
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {seconds} s")
