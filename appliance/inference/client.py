"""The camera pipelines' side: `detect()` puts a frame in the camera's ring and awaits the answer.

Requests from every camera go to a plugin over its worker's one connection, matched by request
id, so cameras never wait for each other except for the plugin's own inference time.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from appliance.inference.errors import DeadlineExceeded, InvalidFrame, UnknownPlugin
from appliance.inference.protocol import DetectRequest, FrameFitMessage, ResultMessage
from appliance.inference.settings import RunnerSettings
from appliance.inference.shm import FrameRing
from appliance.inference.supervisor import PluginSupervisor
from contracts.vision import Detection
from plugins.base import FrameFit


@dataclass(frozen=True)
class DetectResult:
    detections: list[Detection]
    infer_ms: float  # the plugin's own inference time, measured in the worker


class RunnerClient:
    def __init__(self, settings: RunnerSettings, supervisors: dict[str, PluginSupervisor]) -> None:
        self.settings = settings
        self.supervisors = supervisors
        self.rings: dict[str, FrameRing] = {}
        self._ids = itertools.count(1)

    async def detect(
        self,
        camera_id: str,
        frame_bgr: NDArray[np.uint8],
        *,
        plugin: str | None = None,
        deadline_s: float | None = None,
    ) -> DetectResult:
        """Run `plugin` (the only or first configured one by default) on one BGR frame.

        Raises DeadlineExceeded when no answer came within `deadline_s` (default: the
        settings' request timeout), RunnerUnavailable (or its PluginQuarantined /
        PluginRefused) when the plugin is not serving, InferFailed when the plugin raised.
        """
        supervisor = self._supervisor(plugin)
        _check_frame(frame_bgr)
        supervisor.link_for_request()  # fail fast before waiting for a slot
        loop = asyncio.get_running_loop()
        timeout = self.settings.request_timeout_s if deadline_s is None else deadline_s
        deadline = loop.time() + timeout  # the loop clock is time.monotonic()
        width, height = send_size(frame_bgr, supervisor.fit)
        ring = self._ring(camera_id, width * height * 3)
        try:
            async with asyncio.timeout_at(deadline):
                slot = await ring.acquire()
        except TimeoutError:
            raise DeadlineExceeded(
                f"camera {camera_id}: all {ring.slots} frame slots were still in flight at "
                "the deadline"
            ) from None
        try:
            link = supervisor.link_for_request()
            offset = ring.write(slot, frame_bgr, (width, height))
            request = DetectRequest(
                id=next(self._ids),
                camera=camera_id,
                plugin=supervisor.name,
                shm=ring.name,
                slot=slot,
                offset=offset,
                shape=(height, width, 3),
                deadline=deadline,
            )
            future = link.submit(request, release=lambda: ring.release(slot))
        except BaseException:
            ring.release(slot)
            raise
        return await _wait(future, deadline, f"plugin {supervisor.name}, camera {camera_id}")

    def close_camera(self, camera_id: str) -> None:
        """Drop a camera's ring (its segment goes once no frame of it is in flight)."""
        ring = self.rings.pop(camera_id, None)
        if ring is not None:
            ring.retire()

    def close(self) -> None:
        """Unlink every segment; call once no worker runs any more."""
        rings, self.rings = list(self.rings.values()), {}
        for ring in rings:
            ring.close()

    def _supervisor(self, plugin: str | None) -> PluginSupervisor:
        if plugin is None and self.supervisors:
            return next(iter(self.supervisors.values()))
        supervisor = self.supervisors.get(plugin or "")
        if supervisor is None:
            raise UnknownPlugin(
                f"no plugin named {plugin!r}; configured: {sorted(self.supervisors)}"
            )
        return supervisor

    def _ring(self, camera_id: str, frame_bytes: int) -> FrameRing:
        ring = self.rings.get(camera_id)
        if ring is None or ring.slot_bytes < frame_bytes:
            if ring is not None:
                ring.retire()  # bigger frames now; the old ring goes when its slots are free
            ring = self.rings[camera_id] = FrameRing(self.settings.slots_per_camera, frame_bytes)
        return ring


async def _wait(future: asyncio.Future[ResultMessage], deadline: float, where: str) -> DetectResult:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait([future], timeout=max(0.0, deadline - loop.time()))
    finally:
        if not future.done():
            future.cancel()  # nobody waits any more; the slot stays busy until the worker answers
    if future.cancelled():
        raise DeadlineExceeded(f"{where}: no result by the deadline")
    result = future.result()
    return DetectResult(detections=result.detections, infer_ms=result.infer_ms)


def send_size(frame: NDArray[np.uint8], fit: FrameFitMessage | None) -> tuple[int, int]:
    """The size (width, height) to send `frame` at: the plugin's own first resize when that
    makes it smaller (the plugin then sees what it would have made of the full frame)."""
    height, width = frame.shape[:2]
    if fit is None:
        return width, height
    fitted = FrameFit(fit.width, fit.height, fit.resize).size_for(width, height)
    return fitted if fitted[0] * fitted[1] < width * height else (width, height)


def _check_frame(frame: NDArray[np.uint8]) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise InvalidFrame(
            f"frame must be a uint8 numpy array, not {getattr(frame, 'dtype', type(frame))}"
        )
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidFrame(f"frame must be H x W x 3 (BGR), got shape {frame.shape}")
