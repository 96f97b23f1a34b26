"""Local API for the settings the UI may change: alert routes, vision thresholds, incidents.

A PUT carries a whole section. It is validated with the section's settings model, stored as an
override (it then replaces the settings file's section at every start) and applied to the
running components at once. Webhook secrets are never shown; a route without a new secret
keeps the one stored under its name.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, SecretStr, ValidationError

from appliance import keys
from appliance.alerts.settings import AlertSettings
from appliance.auth.models import Role
from appliance.incidents.settings import IncidentSettings
from appliance.overrides import SECTIONS, OverrideRejected, Section
from appliance.pipeline.context import PIPELINES
from appliance.settings import ApplianceSettings
from appliance.vision.errors import VisionConfigError
from appliance.vision.profile import ProfileSelector
from appliance.vision.settings import VisionSettings
from appliance.vision.tracker import TrackerSettings
from appliance.web.api import error_response
from appliance.web.auth import require_role
from contracts.registry import contract_error

routes = web.RouteTableDef()

M = TypeVar("M", bound=BaseModel)


def alerts_json(settings: AlertSettings) -> dict[str, Any]:
    data = settings.model_dump(mode="json")
    for route, raw in zip(settings.routes, data["routes"], strict=True):
        raw["secret"] = {"set": route.secret is not None}
    return data


def section_json(settings: ApplianceSettings, section: Section) -> dict[str, Any]:
    if section == "alerts":
        return alerts_json(settings.alerts)
    if section == "vision":
        return settings.vision.processing.model_dump(mode="json")
    return settings.incidents.model_dump(mode="json")


@routes.get("/api/v1/settings")
async def get_settings(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    return web.json_response({section: section_json(settings, section) for section in SECTIONS})


@routes.put("/api/v1/settings/{section}")
async def put_section(request: web.Request) -> web.Response:
    require_role(request, Role.TECHNICIAN)
    section = _section(request)
    try:
        await _replace(request.app, section, await _json_object(request))
    except OverrideRejected as err:
        return error_response(400, err.reason, err.field)
    return web.json_response(section_json(request.app[keys.SETTINGS], section))


async def _replace(app: web.Application, section: Section, body: dict[str, Any]) -> None:
    """Validate, store, then apply; a refusal raises before anything changed."""
    settings = app[keys.SETTINGS]
    overrides = app[keys.OVERRIDES]
    async with overrides.lock:  # validated against, and replacing, the current values
        if section == "alerts":
            alerts = _alerts(body, settings.alerts)
            await overrides.save_alerts(alerts)
            app[keys.ALERTS].replace_settings(alerts)
            settings.alerts = alerts
        elif section == "vision":
            vision = _vision(body, settings.vision.processing)
            await overrides.save_vision(vision)
            for pipeline in app[PIPELINES].values():
                pipeline.set_filters(vision.filters, vision.night)
            settings.vision.processing = vision
        else:
            incidents = _model(IncidentSettings, body)
            await overrides.save_incidents(incidents)
            app[keys.INCIDENTS].settings = incidents
            settings.incidents = incidents


def _section(request: web.Request) -> Section:
    name = request.match_info["section"]
    for section in SECTIONS:
        if name == section:
            return section
    message = {"error": f"no settings section {name[:64]!r} (one of {', '.join(SECTIONS)})"}
    raise web.HTTPNotFound(text=json.dumps(message), content_type="application/json")


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OverrideRejected("the body must be a JSON object", "body")
    return body


def _model(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as err:
        problem = contract_error(err)
        field = None if problem.field == "(message)" else problem.field
        raise OverrideRejected(problem.reason, field) from err


def _alerts(body: dict[str, Any], current: AlertSettings) -> AlertSettings:
    """Validate the alert section; routes keep their stored secret unless given a new one."""
    stored = {r.name: r.secret for r in current.routes if r.secret is not None}
    routes_in = body.get("routes")
    if isinstance(routes_in, list):
        routes_out = []
        for i, route in enumerate(routes_in):
            if isinstance(route, dict):
                route = route | {"secret": _secret(route, stored, f"routes.{i}.secret")}
            routes_out.append(route)
        body = body | {"routes": routes_out}
    return _model(AlertSettings, body)


def _secret(route: dict[str, Any], stored: dict[str, SecretStr], field: str) -> str | None:
    given = route.get("secret")
    if isinstance(given, str):
        return given
    kept = stored.get(str(route.get("name")))
    if given is None:
        return kept.get_secret_value() if kept else None
    if given == {"set": False}:
        return None
    if given == {"set": True}:
        if kept is None:
            raise OverrideRejected("no secret is stored for this route; give one", field)
        return kept.get_secret_value()
    raise OverrideRejected('must be a string, null, {"set": true} or {"set": false}', field)


def _vision(body: dict[str, Any], current: VisionSettings) -> VisionSettings:
    """Validate the vision section; the tracker is read at start only, so it must not change."""
    tracker = body.get("tracker")
    if tracker is not None:
        try:
            unchanged = TrackerSettings.model_validate(tracker) == current.tracker
        except ValidationError:
            unchanged = False
        if not unchanged:
            raise OverrideRejected(
                "tracker settings apply at start only: change them in the settings file",
                "tracker",
            )
    vision = _model(VisionSettings, body | {"tracker": current.tracker.model_dump()})
    try:
        ProfileSelector(vision.filters, vision.night)
    except VisionConfigError as err:
        raise OverrideRejected(str(err), "night") from err
    return vision
