"""Local API for cameras: list, snapshot, live MJPEG with overlays, zones (read and replace)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appliance import keys
from appliance.analyzers.counts import CrowdingConfig, HeadcountConfig
from appliance.auth.models import Role
from appliance.camera import CameraCondition
from appliance.camera.frames import Image
from appliance.overrides import OverrideRejected
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.context import PIPELINES
from appliance.tasks import background
from appliance.vision.zones import ZoneConfig, ZoneSettings
from appliance.web.api import decode_body, error_response
from appliance.web.auth import require_role
from contracts import ContractError
from contracts.registry import contract_error

routes = web.RouteTableDef()

LIVE_FPS = 5.0
JPEG_QUALITY = 80
FPS_SAMPLE_S = 1.0
FPS_SAMPLES = 6
BOUNDARY = "frame"

# BGR colours of zone outlines by kind; tracks are drawn in yellow
ZONE_COLOURS = {
    "pasture": (60, 180, 60),
    "pen": (200, 160, 40),
    "trough": (220, 120, 0),
    "gate": (0, 200, 255),
    "road": (128, 128, 128),
    "restricted": (0, 0, 230),
    "calving_pen": (200, 80, 200),
}
TRACK_COLOUR = (0, 230, 255)


class ZonesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zones: list[ZoneConfig] = Field(description="Every zone of the camera (replaces them all).")


@dataclass(frozen=True, slots=True)
class TrackBox:
    """A confirmed track as drawn: copied on the event loop, drawn in a thread."""

    track_id: int
    label: str
    box: tuple[float, float, float, float]


class CameraViews:
    """JPEGs of each camera shared by every viewer, read rates, and the end of live streams."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._rates: dict[str, deque[tuple[float, int]]] = {}
        self._jpegs: dict[tuple[str, bool], tuple[tuple[int, ...], bytes]] = {}
        self._locks: dict[tuple[str, bool], asyncio.Lock] = {}

    def sample(self, pipelines: dict[str, CameraPipeline]) -> None:
        """Note how many frames each camera has read so far (see `fps`)."""
        now = time.monotonic()
        for camera_id, pipeline in pipelines.items():
            frame = pipeline.source.latest_frame if pipeline.source else None
            samples = self._rates.setdefault(camera_id, deque(maxlen=FPS_SAMPLES))
            samples.append((now, frame.number if frame else 0))

    def fps(self, camera_id: str) -> float | None:
        """Frames read per second over the last few seconds; None until measured."""
        samples = self._rates.get(camera_id)
        if not samples or len(samples) < 2:
            return None
        (t0, n0), (t1, n1) = samples[0], samples[-1]
        return round(max(n1 - n0, 0) / (t1 - t0), 1) if t1 > t0 else None

    async def jpeg(self, pipeline: CameraPipeline, overlay: bool) -> tuple[tuple[int, ...], bytes]:
        """The latest frame as JPEG (drawn once per frame and overlay, whoever asks).

        Raises LookupError when the camera has no frame yet."""
        frame = pipeline.source.latest_frame if pipeline.source else None
        if frame is None:
            raise LookupError(pipeline.camera_id)
        live = pipeline.live
        version: tuple[int, ...] = (frame.number,)
        if overlay:
            version = (frame.number, live.frame_number if live else 0, id(pipeline.zones))
        key = (pipeline.camera_id, overlay)
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._jpegs.get(key)
            if cached is not None and cached[0] == version:
                return cached
            tracks = [TrackBox(t.id, t.label, t.box) for t in live.tracks] if live else []
            zones = list(pipeline.zones.settings.zones) if overlay else []
            data = await asyncio.to_thread(render, frame.image, tracks, zones, overlay)
            self._jpegs[key] = (version, data)
            return version, data


VIEWS = web.AppKey("camera_views", CameraViews)


def render(image: Image, tracks: list[TrackBox], zones: list[ZoneConfig], overlay: bool) -> bytes:
    """Encode a BGR frame as JPEG, with zones and track boxes drawn on a copy if asked."""
    if overlay:
        image = image.copy()
        height, width = image.shape[:2]
        scale = np.array([width, height], dtype=np.float64)
        thickness = max(1, round(width / 640))
        for zone in zones:
            colour = ZONE_COLOURS.get(zone.kind, (255, 255, 255))
            points = np.round(np.array(zone.points) * scale).astype(np.int32)
            cv2.polylines(image, [points], True, colour, thickness + 1, cv2.LINE_AA)
            x, y = points[:, 0].min(), points[:, 1].min()
            _label(image, zone.name, (int(x) + 4, int(y) + 18), colour, width)
        for track in tracks:
            x1, y1, x2, y2 = track.box
            top_left = (round(x1 * width), round(y1 * height))
            bottom_right = (round(x2 * width), round(y2 * height))
            cv2.rectangle(image, top_left, bottom_right, TRACK_COLOUR, thickness + 1)
            text = f"{track.label} #{track.track_id}"
            _label(image, text, (top_left[0], max(top_left[1] - 6, 14)), TRACK_COLOUR, width)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes())


def _label(
    image: Image, text: str, origin: tuple[int, int], colour: tuple[int, int, int], width: int
) -> None:
    size = max(0.4, width / 1600)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, colour, 1, cv2.LINE_AA)


async def cameras_context(app: web.Application) -> AsyncIterator[None]:
    """The shared camera views, with a loop sampling the cameras' read rates."""
    views = CameraViews()
    app[VIEWS] = views

    async def sample() -> None:
        while True:
            views.sample(app[PIPELINES])
            await asyncio.sleep(FPS_SAMPLE_S)

    async with background(sample(), "camera rates"):
        yield


async def stop_live_views(app: web.Application) -> None:
    """On shutdown: end every live stream so the server need not wait for them."""
    views = app.get(VIEWS)
    if views is not None:
        views.stopping.set()


def zones_json(zones: ZoneSettings) -> list[dict[str, Any]]:
    return [z.model_dump(mode="json") for z in zones.zones]


def _pipeline(request: web.Request) -> CameraPipeline:
    camera_id = request.match_info["camera_id"]
    pipeline = request.app[PIPELINES].get(camera_id)
    if pipeline is None:
        message = {"error": f"no camera {camera_id[:64]!r}"}
        raise web.HTTPNotFound(text=json.dumps(message), content_type="application/json")
    return pipeline


def camera_state(pipeline: CameraPipeline) -> tuple[str, list[str]]:
    """The camera's state (`starting`, `running`, `offline`, `degraded`) and active problems."""
    source = pipeline.source
    active = sorted(c.value for c in source.active_conditions) if source else []
    if CameraCondition.OFFLINE.value in active:
        return "offline", active
    if source is None or source.latest_frame is None:
        return "starting", active
    return ("degraded" if active else "running"), active


def camera_json(pipeline: CameraPipeline, views: CameraViews) -> dict[str, Any]:
    state, health = camera_state(pipeline)
    frame = pipeline.source.latest_frame if pipeline.source else None
    height, width = frame.image.shape[:2] if frame else (None, None)
    return {
        "camera_id": pipeline.camera_id,
        "name": pipeline.camera_id,
        "state": state,
        "health": health,
        "fps": views.fps(pipeline.camera_id),
        "inferred": pipeline.counters.inferred,
        "width": width,
        "height": height,
        "zones": zones_json(pipeline.zones.settings),
        "detector": pipeline.settings.detector,
    }


@routes.get("/api/v1/cameras")
async def list_cameras(request: web.Request) -> web.Response:
    views = request.app[VIEWS]
    pipelines = request.app[PIPELINES]
    return web.json_response({"items": [camera_json(p, views) for p in pipelines.values()]})


def _overlay(request: web.Request) -> bool:
    raw = request.query.get("overlay", "0")
    if raw not in ("0", "1"):
        raise ContractError("must be 0 or 1", field="overlay")
    return raw == "1"


@routes.get("/api/v1/cameras/{camera_id}/snapshot.jpg")
async def snapshot(request: web.Request) -> web.Response:
    pipeline = _pipeline(request)
    try:
        _, data = await request.app[VIEWS].jpeg(pipeline, _overlay(request))
    except LookupError:
        return error_response(503, f"camera {pipeline.camera_id} has no frame yet")
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/cameras/{camera_id}/live")
async def live(request: web.Request) -> web.StreamResponse:
    """MJPEG of the latest frames with overlays, at most `LIVE_FPS` a second."""
    pipeline = _pipeline(request)
    views = request.app[VIEWS]
    response = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    sent: tuple[int, ...] | None = None
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ConnectionResetError):  # the viewer went away
        while not views.stopping.is_set():
            started = loop.time()
            with contextlib.suppress(LookupError):  # no frame yet: keep waiting
                version, data = await views.jpeg(pipeline, overlay=True)
                if version != sent:
                    head = (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n"
                    )
                    await response.write(head.encode() + data + b"\r\n")
                    sent = version
            pause = max(1.0 / LIVE_FPS - (loop.time() - started), 0.01)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await views.stopping.wait()
    return response


@routes.get("/api/v1/cameras/{camera_id}/zones")
async def get_zones(request: web.Request) -> web.Response:
    pipeline = _pipeline(request)
    return web.json_response({"zones": zones_json(pipeline.zones.settings)})


@routes.put("/api/v1/cameras/{camera_id}/zones")
async def put_zones(request: web.Request) -> web.Response:
    """Replace a camera's zones: validated, stored, and used from the pipeline's next frame."""
    require_role(request, Role.TECHNICIAN)
    pipeline = _pipeline(request)
    body = decode_body(ZonesBody, await request.read())
    overrides = request.app[keys.OVERRIDES]
    async with overrides.lock:
        try:
            zones = ZoneSettings.model_validate(
                pipeline.zones.settings.model_dump() | {"zones": body.zones}
            )
            _check_zones_used(pipeline, zones)
        except ValidationError as err:
            problem = contract_error(err)
            field = "zones" if problem.field == "(message)" else problem.field
            return error_response(400, problem.reason, field)
        except OverrideRejected as err:
            return error_response(400, err.reason, err.field)
        await overrides.save_zones(pipeline.camera_id, zones)
        pipeline.set_zones(zones)
    return web.json_response({"zones": zones_json(zones)})


def _check_zones_used(pipeline: CameraPipeline, zones: ZoneSettings) -> None:
    """Zones a head-count or crowding rule counts must stay (they would read as empty)."""
    names = {z.name for z in zones.zones}
    for config in pipeline.settings.analyzers:
        if isinstance(config, HeadcountConfig | CrowdingConfig) and config.enabled:
            counted = config.expected if isinstance(config, HeadcountConfig) else config.max_animals
            missing = sorted(set(counted) - names)
            if missing:
                raise OverrideRejected(
                    f"zone {missing[0]!r} is counted by the {config.type} rule; keep it",
                    field="zones",
                )
