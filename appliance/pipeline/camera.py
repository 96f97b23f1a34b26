"""One camera's pipeline, from frames worth a look to farm events in the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from appliance.analyzers.base import Scene
from appliance.analyzers.registry import build
from appliance.camera import CameraHealthEvent, CameraSource, InferenceFrame
from appliance.camera.frames import Frame
from appliance.camera.motion import MotionGate
from appliance.inference import DetectResult, InferenceError, Runner
from appliance.media.buffer import CameraBuffer
from appliance.pipeline.closer import CloserLook, Region, crop, in_frame, new_objects
from appliance.pipeline.settings import CameraPipelineSettings
from appliance.pipeline.tiles import merge, tiles
from appliance.store.events import EventStore
from appliance.vision.filters import FilterSettings, Profile
from appliance.vision.profile import NightSettings, ProfileSelector, mean_luma
from appliance.vision.settings import VisionSettings
from appliance.vision.tracker import Track, Tracker, TrackState, on_the_move
from appliance.vision.zones import ZoneMonitor, ZoneSettings
from contracts import EventType, FarmEvent, FarmEventKind, Severity
from contracts.vision import Detection

log = logging.getLogger(__name__)

PIPELINE_MS_KEPT = 1000
NEXT_FRAME_S = 0.01  # asking for a look this soon gets the next looked-at frame


@dataclass
class PipelineCounters:
    inferred: int = 0
    detect_failed: int = 0
    findings: int = 0
    infer_ms_last: float = 0.0
    closer_looks: int = 0
    """Second inferences on a crop around unexplained motion."""
    closer_found: int = 0
    """Objects those found that the whole frame had not."""
    tiles_looked: int = 0
    """Night tiles inferred."""
    # capture (monotonic stamp) to tracker update done, per inferred frame; the latest ones
    pipeline_ms: deque[float] = field(default_factory=lambda: deque(maxlen=PIPELINE_MS_KEPT))


@dataclass(frozen=True)
class LiveView:
    """What the camera saw on its latest inferred frame (for overlays)."""

    frame_number: int
    captured_at: float
    tracks: list[Track]


class CameraPipeline:
    def __init__(
        self,
        settings: CameraPipelineSettings,
        processing: VisionSettings,
        runner: Runner,
        events: EventStore,
        media: CameraBuffer | None = None,
    ) -> None:
        self.settings = settings
        self.camera_id = settings.source.id
        self.runner = runner
        self.events = events
        self.selector = ProfileSelector(processing.filters, processing.night)
        self.tracker = Tracker(processing.tracker)
        self.zones = ZoneMonitor(settings.zones, camera=self.camera_id)
        self.zone_kinds = {z.name: z.kind for z in settings.zones.zones}
        self.analyzers = build(list(settings.analyzers), self.camera_id)
        self.counters = PipelineCounters()
        self.closer = CloserLook(settings.closer_look, MotionGate(settings.source.motion))
        self.live: LiveView | None = None
        self.source: CameraSource | None = None
        self.next_look: float | None = None
        """Monotonic time an analyzer wants a frame inferred at (a hold ends), after `process`."""
        self.media = media
        """The camera's clip tap: sees every decoded frame and each inferred frame's tracks."""

    def set_zones(self, zones: ZoneSettings) -> None:
        """Use new zones from the next frame on; zone membership and analyzers start afresh."""
        self.settings = self.settings.model_copy(update={"zones": zones})
        self.zones = ZoneMonitor(zones, camera=self.camera_id)
        self.zone_kinds = {z.name: z.kind for z in zones.zones}
        self.analyzers = build(list(self.settings.analyzers), self.camera_id)

    def set_filters(self, filters: FilterSettings, night: NightSettings) -> None:
        """Use new day and night filter rules from the next frame on."""
        self.selector.replace(filters, night)

    def make_source(self) -> CameraSource:
        """The camera's source (benchmarks override it to time the stages)."""
        return CameraSource(self.settings.source, on_health=self._on_health)

    async def run(self) -> None:
        source = self.make_source()
        if self.media is not None:
            source.add_frame_listener(self.media.on_frame)
        self.source = source
        async with source, self._repeat_health(source):
            async for item in source.frames_to_infer():
                await self.process(item)
                if self.next_look is not None:
                    source.request_inference(self.next_look)

    async def process(self, item: InferenceFrame) -> None:
        frame = item.frame
        try:
            result = await self.runner.detect(
                self.camera_id,
                frame.image,
                plugin=self.settings.detector,
                deadline_s=self.settings.deadline_s,
            )
        except InferenceError as err:
            self.counters.detect_failed += 1
            if self.counters.detect_failed == 1 or self.counters.detect_failed % 100 == 0:
                log.warning("camera %s: no detections (%s)", self.camera_id, err)
            return
        self.counters.inferred += 1
        self.counters.infer_ms_last = result.infer_ms
        captured = datetime.fromtimestamp(frame.captured_at, UTC)
        height, width = frame.image.shape[:2]
        brightness = mean_luma(frame.image) if item.brightness is None else item.brightness
        profile = self.selector.select_profile(captured.astimezone(), brightness)
        found = result.detections
        if profile.name == "night" and self.settings.night_tiles.enabled:
            found = merge(found + await self._tiles(frame))
        detections = profile.apply(found, width / height)
        region = self.closer.region(frame.image, detections, frame.captured_at, item.view)
        closer = (
            [] if region is None else await self._look_closer(frame, region, detections, profile)
        )
        again = region is not None and self.closer.found(region, frame.captured_at, bool(closer))
        detections += closer
        update = self.tracker.update(detections, frame.captured_at)
        self.counters.pipeline_ms.append((time.monotonic() - frame.captured_mono) * 1000)
        scene = Scene(
            camera_id=self.camera_id,
            t=frame.captured_at,
            local_time=captured.astimezone(),
            update=update,
            zone_events=self.zones.update(update),
            zones=self.zones,
            zone_kinds=self.zone_kinds,
        )
        self.live = LiveView(frame.number, frame.captured_at, list(update.confirmed))
        if self.media is not None:
            self.media.note_view(frame, self.live.tracks, self.settings.zones.zones)
        for analyzer in self.analyzers:
            for finding in analyzer.observe(scene):
                self.counters.findings += 1
                await self.events.record(
                    EventType.FARM_EVENT,
                    finding.event,
                    correlation_id=finding.correlation_id,
                    occurred_at=captured,
                )
        self.next_look = self._next_look(frame, update.confirmed, again=again)

    async def _look_closer(
        self, frame: Frame, region: Region, seen: list[Detection], profile: Profile
    ) -> list[Detection]:
        """New objects a second inference finds in `region` of the frame (kept by the frame's
        filter `profile`)."""
        result = await self._detect_crop(frame, region, "closer look")
        if result is None:
            return []
        self.counters.closer_looks += 1
        height, width = frame.image.shape[:2]
        followed = [t for t in self.tracker.tracks if t.state is not TrackState.TENTATIVE]
        found = new_objects(result.detections, region, frame.image.shape, seen, followed)
        kept = profile.apply(found, width / height)
        self.counters.closer_found += len(kept)
        return kept

    async def _detect_crop(self, frame: Frame, region: Region, what: str) -> DetectResult | None:
        """The detector's answer on `region` of the frame; None (logged) when it gave none."""
        try:
            return await self.runner.detect(
                self.camera_id,
                crop(frame.image, region),
                plugin=self.settings.detector,
                deadline_s=self.settings.deadline_s,
            )
        except InferenceError as err:
            log.debug("camera %s: %s skipped (%s)", self.camera_id, what, err)
            return None

    async def _tiles(self, frame: Frame) -> list[Detection]:
        """What the detector finds in the frame's night tiles (frame coordinates, boxes cut by
        a tile's inner edge dropped)."""
        height, width = frame.image.shape[:2]
        found: list[Detection] = []
        for region in tiles(width, height, self.settings.night_tiles):
            result = await self._detect_crop(frame, region, "night tile")
            if result is None:
                continue
            self.counters.tiles_looked += 1
            found += in_frame(result.detections, region, width, height)
        return found

    def _next_look(self, frame: Frame, tracks: list[Track], again: bool) -> float | None:
        """The monotonic time the next frame should be inferred at even if little changes: the
        earliest hold end the analyzers time, soon while something is on the move, and the
        next looked-at frame when a closer look first found something new (`again`: a track
        needs a second hit)."""
        now = frame.captured_at
        due = [d for a in self.analyzers if a.config.enabled and (d := a.due(now)) is not None]
        if again:
            due.append(now + NEXT_FRAME_S)
        if any(on_the_move(t, now) for t in tracks):
            due.append(now + self.settings.source.moving_inference_interval_s)
        ahead = [d for d in due if d > now]
        if not ahead:
            return None
        return frame.captured_mono + min(ahead) - now

    async def _on_health(self, event: CameraHealthEvent) -> None:
        if event.active:
            await self._record_health(event.condition.value, event.detail, event.at)

    async def _record_health(self, condition: str, detail: str, at: datetime) -> None:
        farm_event = FarmEvent(
            kind=FarmEventKind.CAMERA_HEALTH,
            severity=Severity.WARNING,
            summary=f"Camera {self.camera_id}: {condition.replace('_', ' ')}",
            camera_id=self.camera_id,
            attributes={"condition": condition, "detail": detail[:300]},
        )
        await self.events.record(
            EventType.FARM_EVENT,
            farm_event,
            correlation_id=f"{self.camera_id}:camera_health:{condition}",
            occurred_at=at,
        )

    @contextlib.asynccontextmanager
    async def _repeat_health(self, source: CameraSource) -> AsyncIterator[None]:
        """While a camera problem lasts, report it again so its incident stays open."""

        async def repeat() -> None:
            while True:
                await asyncio.sleep(self.settings.health_repeat_s)
                for condition in source.active_conditions:
                    await self._record_health(condition.value, "still active", datetime.now(UTC))

        task = asyncio.create_task(repeat(), name=f"camera {self.camera_id} health")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
