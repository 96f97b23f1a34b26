"""The appliance app factory: ordered startup and shutdown of every context."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from appliance import keys
from appliance.alerts.dispatcher import AlertDispatcher
from appliance.alerts.mqtt import MqttAlerts
from appliance.demo.devices import run_simulated_sensors
from appliance.demo.source import run_scripted_source
from appliance.devices.context import devices_context, embedded_address
from appliance.incidents.engine import IncidentEngine
from appliance.media import media_context
from appliance.overrides import Overrides, apply_stored
from appliance.pipeline.context import PIPELINES, vision
from appliance.settings import ApplianceSettings
from appliance.store import Database, EventStore
from appliance.store.kv import KeyValue
from appliance.sync.agent import SyncAgent
from appliance.sync.client import CentralClient
from appliance.sync.desired import DESIRED, DesiredStatePuller
from appliance.sync.identity import IdentityStore
from appliance.sync.media import MediaQueue, MediaUploader
from appliance.tasks import background
from appliance.web import auth as auth_routes
from appliance.web import cameras as camera_routes
from appliance.web import devices as device_routes
from appliance.web import incidents as incident_routes
from appliance.web import media as media_routes
from appliance.web import push, settings_api, system
from appliance.web import ui as ui_routes
from appliance.web.api import errors_middleware, routes

log = logging.getLogger(__name__)

Context = Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]


def create_app(settings: ApplianceSettings) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware, auth_routes.auth_middleware], client_max_size=1024**2
    )
    app[keys.SETTINGS] = settings
    app.add_routes(routes)
    app.add_routes(auth_routes.routes)
    app.add_routes(incident_routes.routes)
    app.add_routes(media_routes.routes)
    app.add_routes(device_routes.routes)
    app.add_routes(push.routes)
    app.add_routes(ui_routes.routes)
    app.add_routes(camera_routes.routes)
    app.add_routes(settings_api.routes)
    app.add_routes(system.routes)
    app.on_shutdown.append(camera_routes.stop_live_views)
    app.cleanup_ctx.extend(
        [
            _store,
            _overrides,
            auth_routes.auth_context,
            _central,
            devices_context,
            _incidents,
            _media,
            _alerts,
            _vision,
            camera_routes.cameras_context,
            _sync,
            _media_upload,
            _demo,
        ]
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


async def _overrides(app: web.Application) -> AsyncIterator[None]:
    """Lay the zones and settings changed from the UI over the settings file."""
    overrides = Overrides(KeyValue(app[keys.DATABASE]))
    app[keys.OVERRIDES] = overrides
    app[keys.SETTINGS] = await apply_stored(app[keys.SETTINGS], overrides)
    yield


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


async def _media(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    async with media_context(settings.media, app[keys.EVENTS], settings.data_dir) as media:
        app[keys.MEDIA] = media
        yield


async def _alerts(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    mqtt_alerts = MqttAlerts(app[keys.MQTT].publish, settings.alerts, root=settings.mqtt.root)
    dispatcher = AlertDispatcher(
        app[keys.EVENTS].hub, settings.alerts, app[keys.HTTP_SESSION], mqtt=mqtt_alerts.deliver
    )
    app[keys.ALERTS] = dispatcher
    async with background(dispatcher.run(), "alert dispatcher"):
        yield


async def _vision(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    cache = settings.data_dir / "model-cache"
    recorder = app[keys.MEDIA].recorder
    async with vision(settings.vision, app[keys.EVENTS], cache, recorder) as pipelines:
        app[PIPELINES] = pipelines
        yield


async def _sync(app: web.Application) -> AsyncIterator[None]:
    agent = SyncAgent(
        app[keys.EVENTS], app[keys.IDENTITIES], app[keys.CENTRAL], app[keys.SETTINGS].sync
    )
    app[keys.SYNC] = agent
    puller = DesiredStatePuller(
        app[keys.IDENTITIES],
        app[keys.CENTRAL],
        app[keys.COMMANDS],
        KeyValue(app[keys.DATABASE]),
        app[keys.EVENTS].hub,
        app[keys.SETTINGS].sync,
    )
    app[DESIRED] = puller
    async with (
        background(agent.run(), "sync agent"),
        background(puller.run(), "desired state"),
    ):
        yield


async def _media_upload(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    uploader = MediaUploader(
        MediaQueue(app[keys.DATABASE], settings.data_dir),
        app[keys.EVENTS],
        app[keys.IDENTITIES],
        app[keys.CENTRAL],
        settings.sync,
    )
    app[keys.MEDIA_UPLOADER] = uploader
    async with background(uploader.run(), "media uploader"):
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
