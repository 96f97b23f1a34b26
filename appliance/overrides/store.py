"""Overrides in the key-value table, and laying them over the settings file at start."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from appliance.alerts.settings import AlertSettings
from appliance.incidents.settings import IncidentSettings
from appliance.pipeline.settings import CameraPipelineSettings
from appliance.settings import ApplianceSettings
from appliance.store.kv import KeyValue
from appliance.vision.settings import VisionSettings
from appliance.vision.zones import ZoneSettings

log = logging.getLogger(__name__)

Section = Literal["alerts", "vision", "incidents"]
SECTIONS: tuple[Section, ...] = ("alerts", "vision", "incidents")
VISION_RUNTIME_KEYS = ("filters", "night")
"""Parts of the vision section that can change while running (the tracker cannot)."""

M = TypeVar("M", bound=BaseModel)


def _zones_key(camera_id: str) -> str:
    return f"overrides.zones.{camera_id}"


def _section_key(section: Section) -> str:
    return f"overrides.settings.{section}"


def alerts_with_secrets(settings: AlertSettings) -> dict[str, Any]:
    """The alert settings as JSON with the route secrets in clear (for the local store only)."""
    data = settings.model_dump(mode="json")
    for route, raw in zip(settings.routes, data["routes"], strict=True):
        raw["secret"] = route.secret.get_secret_value() if route.secret else None
    return data


class Overrides:
    """Stored overrides; `lock` makes each change (validate, store, apply) one at a time."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.lock = asyncio.Lock()

    async def zones(self, camera_id: str) -> list[dict[str, Any]] | None:
        value = await self.kv.get(_zones_key(camera_id))
        return value if isinstance(value, list) else None

    async def save_zones(self, camera_id: str, zones: ZoneSettings) -> None:
        await self.kv.put(_zones_key(camera_id), [z.model_dump(mode="json") for z in zones.zones])

    async def section(self, section: Section) -> dict[str, Any] | None:
        value = await self.kv.get(_section_key(section))
        return value if isinstance(value, dict) else None

    async def save_alerts(self, settings: AlertSettings) -> None:
        await self.kv.put(_section_key("alerts"), alerts_with_secrets(settings))

    async def save_vision(self, settings: VisionSettings) -> None:
        data = settings.model_dump(mode="json", include=set(VISION_RUNTIME_KEYS))
        await self.kv.put(_section_key("vision"), data)

    async def save_incidents(self, settings: IncidentSettings) -> None:
        await self.kv.put(_section_key("incidents"), settings.model_dump(mode="json"))


async def apply_stored(settings: ApplianceSettings, overrides: Overrides) -> ApplianceSettings:
    """A copy of `settings` with the stored overrides laid over it.

    An override that no longer validates (the settings file changed under it) is logged and
    left out, so the appliance still starts."""
    alerts = await _stored(overrides, "alerts", AlertSettings, {})
    incidents = await _stored(overrides, "incidents", IncidentSettings, {})
    processing = settings.vision.processing
    vision = await _stored(
        overrides, "vision", VisionSettings, {"tracker": processing.tracker.model_dump()}
    )
    cameras = [await _camera(overrides, c) for c in settings.vision.cameras]
    pipelines = settings.vision.model_copy(
        update={"processing": vision or processing, "cameras": cameras}
    )
    # a new top-level object: later changes replace its sections, never the caller's
    return settings.model_copy(
        update={
            "alerts": alerts or settings.alerts,
            "incidents": incidents or settings.incidents,
            "vision": pipelines,
        }
    )


async def _stored(
    overrides: Overrides, section: Section, model: type[M], fixed: dict[str, Any]
) -> M | None:
    raw = await overrides.section(section)
    if raw is None:
        return None
    try:
        return model.model_validate(raw | fixed)
    except ValidationError as err:
        log.error("stored %s settings are invalid, using the file's: %s", section, err)
        return None


async def _camera(overrides: Overrides, camera: CameraPipelineSettings) -> CameraPipelineSettings:
    raw = await overrides.zones(camera.source.id)
    if raw is None:
        return camera
    try:
        zones = ZoneSettings.model_validate(camera.zones.model_dump() | {"zones": raw})
    except ValidationError as err:
        log.error("stored zones of %s are invalid, using the file's: %s", camera.source.id, err)
        return camera
    return camera.model_copy(update={"zones": zones})
