"""Device routes of the local API: provisioning, status, commands, device types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from appliance import keys
from appliance.auth.models import Role
from appliance.devices.commands import CommandRefusedError, Saga
from appliance.devices.context import embedded_address
from appliance.devices.errors import DeviceExistsError, UnknownDeviceError
from appliance.devices.metrics import metrics_text
from appliance.devices.registry import Device, Provisioned
from appliance.web.api import decode_body, error_response
from appliance.web.auth import require_role
from contracts.devices import DeviceType, describe
from contracts.ids import IDENTIFIER_PATTERN, CorrelationId
from contracts.mqtt import DeviceTopicKind, device_topic

routes = web.RouteTableDef()


class ProvisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(pattern=IDENTIFIER_PATTERN, description="Device id (MQTT username).")
    device_type: DeviceType
    name: str = Field(default="", max_length=100)


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1, max_length=64)
    params: dict[str, JsonValue] = Field(default_factory=dict)
    correlation_id: CorrelationId | None = Field(
        default=None, description="Idempotency key; the same key never runs a command twice."
    )
    requested_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Who asks; the signed-in user (or `api-token`) by default.",
    )


def _device_json(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "device_type": device.device_type.value,
        "name": device.name,
        "active": device.active,
        "created_at": device.created_at.isoformat(),
        "secret_set_at": device.secret_set_at.isoformat(),
    }


async def _with_status(request: web.Request, device: Device) -> dict[str, Any]:
    status = await request.app[keys.DEVICE_STATUS].get(device.device_id)
    return _device_json(device) | {"status": status.as_json() if status else None}


def _credentials(request: web.Request, provisioned: Provisioned) -> dict[str, Any]:
    """Everything a device needs to log in; the secret is never shown again."""
    settings = request.app[keys.SETTINGS].mqtt
    device_id = provisioned.device.device_id
    host, port = embedded_address(settings)
    return _device_json(provisioned.device) | {
        "mqtt": {
            "host": host,
            "port": port,
            "root": settings.root,
            "client_id": device_id,
            "username": device_id,
            "password": provisioned.secret,
            "command_topic": device_topic(device_id, DeviceTopicKind.COMMAND, root=settings.root),
        }
    }


def _saga_json(saga: Saga) -> dict[str, Any]:
    return saga.as_json()


async def _device_or_404(request: web.Request) -> Device:
    device = await request.app[keys.DEVICES].get(request.match_info["device_id"])
    if device is None:
        raise web.HTTPNotFound(text='{"error": "no such device"}', content_type="application/json")
    return device


@routes.get("/api/v1/device-types")
async def device_types(request: web.Request) -> web.Response:
    return web.json_response({"items": [describe(t) for t in DeviceType]})


@routes.get("/api/v1/devices")
async def list_devices(request: web.Request) -> web.Response:
    devices = await request.app[keys.DEVICES].list()
    return web.json_response({"items": [await _with_status(request, d) for d in devices]})


@routes.post("/api/v1/devices")
async def provision(request: web.Request) -> web.Response:
    """Provision a device; the reply holds its secret, shown only this once."""
    require_role(request, Role.TECHNICIAN)
    body = decode_body(ProvisionBody, await request.read())
    try:
        provisioned = await request.app[keys.DEVICES].provision(
            body.device_id, body.device_type, body.name
        )
    except DeviceExistsError as err:
        return error_response(409, str(err), "device_id")
    return web.json_response(_credentials(request, provisioned), status=201)


@routes.get("/api/v1/devices/{device_id}")
async def get_device(request: web.Request) -> web.Response:
    device = await _device_or_404(request)
    return web.json_response(await _with_status(request, device))


@routes.post("/api/v1/devices/{device_id}/secret")
async def rotate_secret(request: web.Request) -> web.Response:
    """Give a device a new secret (the old one stops working); re-activates a revoked device."""
    require_role(request, Role.TECHNICIAN)
    device = await _device_or_404(request)
    provisioned = await request.app[keys.DEVICES].rotate_secret(device.device_id)
    return web.json_response(_credentials(request, provisioned))


@routes.delete("/api/v1/devices/{device_id}")
async def revoke(request: web.Request) -> web.Response:
    """Revoke a device: it can no longer log in, and its live connection is closed."""
    require_role(request, Role.TECHNICIAN)
    device = await _device_or_404(request)
    revoked = await request.app[keys.DEVICES].revoke(device.device_id)
    broker = request.app.get(keys.BROKER)
    if broker is not None:
        await broker.disconnect_device(device.device_id)
    return web.json_response(_device_json(revoked))


@routes.post("/api/v1/devices/{device_id}/commands")
async def request_command(request: web.Request) -> web.Response:
    """Request a command; 202 with the saga (200 if its correlation id was seen before)."""
    who = require_role(request, Role.FARMER)
    device = await _device_or_404(request)
    body = decode_body(CommandBody, await request.read())
    try:
        saga, new = await request.app[keys.COMMANDS].request(
            device.device_id,
            body.action,
            body.params,
            requested_by=body.requested_by or who.name,
            correlation_id=body.correlation_id,
        )
    except CommandRefusedError as err:
        return error_response(409, str(err))
    except UnknownDeviceError as err:
        return error_response(404, str(err))
    return web.json_response(_saga_json(saga), status=202 if new else 200)


@routes.get("/api/v1/devices/{device_id}/commands")
async def list_commands(request: web.Request) -> web.Response:
    device = await _device_or_404(request)
    sagas = await request.app[keys.COMMANDS].for_device(device.device_id)
    return web.json_response({"items": [_saga_json(s) for s in sagas]})


@routes.get("/api/v1/commands/{correlation_id}")
async def get_command(request: web.Request) -> web.Response:
    saga = await request.app[keys.COMMANDS].get(request.match_info["correlation_id"])
    if saga is None:
        return error_response(404, "no such command")
    return web.json_response(_saga_json(saga))


@routes.get("/api/v1/devices/{device_id}/telemetry")
async def telemetry(request: web.Request) -> web.Response:
    """Downsampled telemetry: `?name=level_pct&bucket_s=60|3600&hours=24`."""
    device = await _device_or_404(request)
    name = request.query.get("name", "")
    bucket = request.query.get("bucket_s", "60")
    hours = request.query.get("hours", "24")
    if not name or bucket not in ("60", "3600") or not hours.isdigit() or int(hours) > 24 * 366:
        return error_response(400, "needs name, bucket_s 60 or 3600 and hours up to 8784")
    rollups = request.app[keys.TELEMETRY]
    await rollups.flush()
    since = datetime.now(UTC) - timedelta(hours=int(hours))
    items = await rollups.series(device.device_id, name, bucket_s=int(bucket), since=since)
    return web.json_response({"items": items})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus scrape endpoint: broker, device and system metrics."""
    text = await metrics_text(request.app)
    return web.Response(text=text, content_type="text/plain", charset="utf-8")
