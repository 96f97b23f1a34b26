"""The appliance app factory: ordered startup and shutdown of every context."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from appliance import keys
from appliance.alerts.dispatcher import AlertDispatcher
from appliance.demo.devices import run_simulated_sensors
from appliance.demo.source import run_scripted_source
from appliance.devices.context import devices_context, embedded_address
from appliance.incidents.engine import IncidentEngine
from appliance.pipeline.context import PIPELINES, vision
from appliance.settings import ApplianceSettings
from appliance.store import Database, EventStore
from appliance.store.kv import KeyValue
from appliance.sync.agent import SyncAgent
from appliance.sync.client import CentralClient
from appliance.sync.identity import IdentityStore
from appliance.tasks import background
from appliance.web import devices as device_routes
from appliance.web import incidents as incident_routes
from appliance.web import push
from appliance.web.api import errors_middleware, routes

log = logging.getLogger(__name__)

Context = Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]


def create_app(settings: ApplianceSettings) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=1024**2)
    app[keys.SETTINGS] = settings
    app.add_routes(routes)
    app.add_routes(incident_routes.routes)
    app.add_routes(device_routes.routes)
    app.add_routes(push.routes)
    app.cleanup_ctx.extend(
        [_store, _central, devices_context, _incidents, _alerts, _vision, _sync, _demo]
    )
    return app


async def _store(app: web.Application) -> AsyncIterator[None]:
    db = Database(app[keys.SETTINGS].database_path)
    await db.open()
    app[keys.DATABASE] = db
    app[keys.EVENTS] = EventStore(db)
    app[keys.IDENTITIES] = IdentityStore(KeyValue(db))
    yield
    await db.close()


async def _central(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    async with aiohttp.ClientSession() as session:
        app[keys.HTTP_SESSION] = session
        app[keys.CENTRAL] = CentralClient(session, timeout_s=settings.sync.request_timeout_s)
        yield


async def _incidents(app: web.Application) -> AsyncIterator[None]:
    engine = IncidentEngine(app[keys.EVENTS], app[keys.SETTINGS].incidents)
    app[keys.INCIDENTS] = engine
    async with background(engine.run(), "incident engine"):
        yield


async def _alerts(app: web.Application) -> AsyncIterator[None]:
    dispatcher = AlertDispatcher(
        app[keys.EVENTS].hub, app[keys.SETTINGS].alerts, app[keys.HTTP_SESSION]
    )
    app[keys.ALERTS] = dispatcher
    async with background(dispatcher.run(), "alert dispatcher"):
        yield


async def _vision(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    cache = settings.data_dir / "model-cache"
    async with vision(settings.vision, app[keys.EVENTS], cache) as pipelines:
        app[PIPELINES] = pipelines
        yield


async def _sync(app: web.Application) -> AsyncIterator[None]:
    agent = SyncAgent(
        app[keys.EVENTS], app[keys.IDENTITIES], app[keys.CENTRAL], app[keys.SETTINGS].sync
    )
    app[keys.SYNC] = agent
    async with background(agent.run(), "sync agent"):
        yield


async def _demo(app: web.Application) -> AsyncIterator[None]:
    demo = app[keys.SETTINGS].demo_source
    if not demo.enabled:
        yield
        return
    log.warning("demo source enabled: recording scripted events")
    root = app[keys.SETTINGS].mqtt.root
    async with (
        background(run_scripted_source(app[keys.EVENTS], demo.interval_s), "demo events"),
        background(
            run_simulated_sensors(
                app[keys.DEVICES],
                embedded_address(app[keys.SETTINGS].mqtt),
                root=root,
                count=demo.sensors,
                interval_s=demo.interval_s,
            ),
            "demo sensors",
        ),
    ):
        yield


def run(settings: ApplianceSettings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    web.run_app(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        print=None,
        access_log=None,
    )
