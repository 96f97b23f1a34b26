"""The central app factory: FastAPI with an ordered lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from sync_server.api import appliances, commands, desired, enrolment, events, sync
from sync_server.api import media as media_api
from sync_server.bus.bridge import BusBridge
from sync_server.compression import RequestDecompression
from sync_server.db import create_schema, make_engine, session_factory
from sync_server.media.factory import media_service
from sync_server.settings import CentralSettings
from sync_server.state import CentralState

log = logging.getLogger(__name__)


def create_app(settings: CentralSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        await create_schema(engine)
        app.state.central = CentralState(settings, engine, session_factory(engine))
        bridge = BusBridge(settings.bus, app.state.central.sessions, engine.dialect.name)
        async with bridge.running(), media_service(settings.media) as media:
            app.state.bus = bridge
            app.state.media = media
            log.info(
                "central ready (database: %s)", engine.url.render_as_string(hide_password=True)
            )
            yield
        await engine.dispose()

    app = FastAPI(title="Byre central", version="0.1.0", lifespan=lifespan)
    app.state.desired_changes = desired.DesiredChanges()
    app.include_router(enrolment.router)
    app.include_router(sync.router)
    app.include_router(events.router)
    app.include_router(commands.router)
    app.include_router(desired.router)
    app.include_router(desired.admin_router)
    app.include_router(appliances.router)
    app.include_router(media_api.router)
    app.include_router(media_api.objects_router)
    app.add_middleware(RequestDecompression)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def run(settings: CentralSettings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
