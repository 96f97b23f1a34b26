"""Local API for the system page: health of every component, sync, disk, detector plugins."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from appliance import keys
from appliance.errors import StoreError
from appliance.inference import PluginState, Runner
from appliance.inference.settings import PluginSpec
from appliance.pipeline.context import PIPELINES
from appliance.web.cameras import camera_state
from contracts.plugin import PluginManifest

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

Status = Literal["ok", "degraded", "down"]
PLUGIN_STATUS: dict[PluginState, Status] = {
    PluginState.READY: "ok",
    PluginState.LOADING: "degraded",
    PluginState.CRASHED: "degraded",
    PluginState.QUARANTINED: "down",
    PluginState.FAILED: "down",
    PluginState.STOPPED: "down",
}
CAMERA_STATUS: dict[str, Status] = {
    "running": "ok",
    "starting": "degraded",
    "degraded": "degraded",
    "offline": "down",
}


def component(name: str, status: Status, detail: str) -> dict[str, str]:
    return {"name": name, "status": status, "detail": detail}


def version() -> str:
    try:
        return metadata.version("byre")
    except metadata.PackageNotFoundError:
        return "unknown"


@routes.get("/api/v1/system")
async def system(request: web.Request) -> web.Response:
    app = request.app
    settings = app[keys.SETTINGS]
    counts, store = await _store(app)
    runner = _runner(app)
    plugins = await asyncio.to_thread(_plugins, runner) if runner else []
    components = [
        store,
        _mqtt(app),
        *(
            component(f"detector {p['name']}", PLUGIN_STATUS[PluginState(p["status"])], p["detail"])
            for p in plugins
        ),
        *_cameras(app),
    ]
    identity = await app[keys.IDENTITIES].load()
    sync = app[keys.SYNC].status
    sync_json = {
        "enrolled": identity is not None,
        "backlog": counts.get("pending", 0),
        "parked": counts.get("parked", 0),
        "last_success_at": sync.last_success_at.isoformat() if sync.last_success_at else None,
        "last_error": sync.last_error,
        "media": await uploader.report() if (uploader := app.get(keys.MEDIA_UPLOADER)) else None,
    }
    components.append(_sync_component(sync_json))
    disk = await asyncio.to_thread(_disk, settings.data_dir)
    return web.json_response(
        {
            "components": components,
            "sync": sync_json,
            "disk": disk,
            "plugins": plugins,
            "version": version(),
        }
    )


async def _store(app: web.Application) -> tuple[dict[str, int], dict[str, str]]:
    try:
        counts = await app[keys.EVENTS].counts()
    except (sqlite3.Error, StoreError, ValueError) as err:
        return {}, component("store", "down", f"database error: {err}")
    return counts, component("store", "ok", f"{counts['recorded']} events recorded")


def _mqtt(app: web.Application) -> dict[str, str]:
    settings = app[keys.SETTINGS].mqtt
    link = app.get(keys.MQTT)
    broker = app.get(keys.BROKER)
    where = "embedded" if settings.embedded else "external"
    if link is None or not link.ready.is_set():
        return component("mqtt broker", "down", f"{where} broker: the appliance is not connected")
    clients = f", {broker.connected_clients()} clients connected" if broker else ""
    return component("mqtt broker", "ok", f"{where} broker{clients}")


def _runner(app: web.Application) -> Runner | None:
    pipelines = app[PIPELINES]
    return next(iter(pipelines.values())).runner if pipelines else None


def _plugins(runner: Runner) -> list[dict[str, Any]]:
    """Each detector plugin's state, model and runtime (reads small manifests: a thread)."""
    statuses = runner.status()
    items = []
    for spec in runner.settings.plugins:
        status = statuses.get(spec.name)
        state = status.state if status else PluginState.STOPPED
        model, runtime = _model_of(spec)
        detail = status.reason if status and status.reason else state.value
        if status and status.restarts:
            detail += f" ({status.restarts} restarts)"
        items.append(
            {
                "name": spec.name,
                "status": state.value,
                "model": model,
                "runtime": runtime,
                "detail": detail,
            }
        )
    return items


def _model_of(spec: PluginSpec) -> tuple[str | None, str | None]:
    """The model bundle (name and version) and runtime a plugin runs, as far as known."""
    config = spec.config
    runtime = config.get("runtime")
    if config.get("type") != "model":
        return str(config.get("type")), str(runtime) if runtime else None
    from plugins.detectors.model import SHIPPED_BUNDLE  # light: runtimes load lazily

    bundle = Path(str(config.get("bundle") or SHIPPED_BUNDLE))
    try:
        manifest = PluginManifest.model_validate_json((bundle / "manifest.json").read_bytes())
    except (OSError, ValueError) as err:
        log.debug("cannot read the manifest of %s: %s", bundle, err)
        return bundle.name, str(runtime) if runtime else None
    return f"{manifest.name} {manifest.version}", str(runtime or manifest.runtime)


def _cameras(app: web.Application) -> list[dict[str, str]]:
    items = []
    for camera_id, pipeline in app[PIPELINES].items():
        state, health = camera_state(pipeline)
        detail = state + (f": {', '.join(health)}" if health else "")
        items.append(component(f"camera {camera_id}", CAMERA_STATUS[state], detail))
    return items


def _sync_component(sync: dict[str, Any]) -> dict[str, str]:
    if not sync["enrolled"]:
        return component("sync agent", "ok", "not enrolled: events are kept on the appliance")
    if sync["last_error"]:
        return component("sync agent", "degraded", f"last attempt failed: {sync['last_error']}")
    if sync["parked"]:
        return component("sync agent", "degraded", f"{sync['parked']} events parked")
    return component("sync agent", "ok", f"{sync['backlog']} events waiting")


def _disk(data_dir: Path) -> dict[str, Any]:
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError:
        total = free = None
    else:
        total, free = usage.total, usage.free
    return {
        "data_dir": str(data_dir),
        "total_bytes": total,
        "free_bytes": free,
        "used_by_byre_bytes": _size(data_dir),
    }


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while we walked
    return total
