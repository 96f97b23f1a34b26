"""Startup and shutdown of the vision side: the runner and one pipeline per camera."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from appliance.inference import Runner, RunnerEvent
from appliance.inference.settings import PluginSpec, RunnerSettings
from appliance.media.recorder import MediaRecorder
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.settings import VisionPipelineSettings
from appliance.store.events import EventStore
from appliance.tasks import background

log = logging.getLogger(__name__)

RUNNER = web.AppKey("runner", Runner)
PIPELINES = web.AppKey("pipelines", dict[str, CameraPipeline])


def with_model_cache(settings: RunnerSettings, cache_dir: Path) -> RunnerSettings:
    """Give bundle plugins a compiled-model cache under the data directory by default."""
    plugins = [
        PluginSpec(name=p.name, config={"cache_dir": str(cache_dir)} | p.config)
        if p.config.get("type") == "model"
        else p
        for p in settings.plugins
    ]
    return settings.model_copy(update={"plugins": plugins})


def _log_runner_event(event: RunnerEvent) -> None:
    level = logging.INFO if event.kind in ("ready", "restarted") else logging.WARNING
    log.log(level, "detector %s %s: %s", event.plugin, event.kind, event.detail)


@contextlib.asynccontextmanager
async def vision(
    settings: VisionPipelineSettings,
    events: EventStore,
    cache_dir: Path,
    media: MediaRecorder | None = None,
) -> AsyncIterator[dict[str, CameraPipeline]]:
    """Run the runner and every camera pipeline for the lifetime of the block.

    With `media`, each camera's frames and tracks also feed its clip buffer.

    With no camera configured nothing starts (no model is loaded)."""
    if not settings.cameras:
        yield {}
        return
    runner = Runner(with_model_cache(settings.runner, cache_dir), on_event=_log_runner_event)
    async with runner, contextlib.AsyncExitStack() as stack:
        pipelines = {
            c.source.id: CameraPipeline(
                c,
                settings.processing,
                runner,
                events,
                media.camera(c.source.id) if media is not None else None,
            )
            for c in settings.cameras
        }
        for camera_id, pipeline in pipelines.items():
            await stack.enter_async_context(background(pipeline.run(), f"camera {camera_id}"))
        yield pipelines
