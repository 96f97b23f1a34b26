"""Clips and snapshots of camera incidents.

The recorder listens on the hub. When a camera incident opens it starts a clip from the
camera's ring buffer (`pre_s` before the frame of the incident's first event) and writes a
snapshot of that frame with the tracked boxes and the zones drawn. The clip keeps recording
until `post_s` after the incident's latest event; each `incident.updated` moves that end on
(up to `max_clip_s`; a longer incident gets a further clip). Encoding runs in a thread, one
file at a time; when a file is complete its row turns `ready` together with the
`incident.media_ready` event.

Frames live only in memory, so events from before a start are not replayed. Incidents still
open at start are followed in the incidents table instead: their first event after the start
is recorded as a new update would be, even when the engine does not publish it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from appliance.camera.frames import Image
from appliance.errors import StoreError
from appliance.media.buffer import RING_SLACK_S, CameraBuffer, Collector, fit_width
from appliance.media.encode import (
    CLIP_CONTENT_TYPE,
    SNAPSHOT_CONTENT_TYPE,
    ClipOptions,
    WrittenFile,
    decode_jpeg,
    encode_clip,
    write_snapshot,
)
from appliance.media.errors import EncodeError, MediaError
from appliance.media.overlay import OverlayBox, OverlayZone
from appliance.media.ring import BufferedFrame
from appliance.media.settings import MediaSettings
from appliance.media.store import IncidentSource, MediaStore
from appliance.store.events import EventStore, StoredEvent
from contracts import EventType, Incident, IncidentState, MediaKind, new_id

log = logging.getLogger(__name__)

TICK_S = 0.2
FOLLOW_S = 1.0
"""How often incidents open before the start are looked up (the ring covers the delay)."""
EDGE_S = 1e-3
"""Event times pass through ISO strings (µs): a frame this close to the edge still counts."""
TRIGGERS = (EventType.INCIDENT_OPENED, EventType.INCIDENT_UPDATED)


@dataclass(eq=False)
class Recording:
    """A clip being recorded for one incident."""

    media_id: UUID
    source: IncidentSource
    buffer: CameraBuffer
    collector: Collector
    path: Path
    end_at: float
    """Stop once a frame captured at or after this (`time.time()`) arrives."""
    cap_at: float
    """Never record past this (first frame + `max_clip_s`)."""
    seen: float
    """The latest event time this clip shows."""

    def extend(self, last_seen: float, post_s: float) -> None:
        """Record on to `post_s` after an event at `last_seen`, never past the cap."""
        if last_seen <= self.cap_at:
            self.seen = max(self.seen, last_seen)
        self.end_at = max(self.end_at, min(last_seen + post_s, self.cap_at))


class MediaRecorder:
    def __init__(
        self, settings: MediaSettings, events: EventStore, store: MediaStore, media_dir: Path
    ) -> None:
        self.settings = settings
        self.events = events
        self.store = store
        self.media_dir = media_dir
        self.buffers: dict[str, CameraBuffer] = {}
        self.recordings: dict[UUID, Recording] = {}
        """Active clips by incident id."""
        self.carried: dict[UUID, datetime] = {}
        """Incidents open before this start without a clip since, and their latest event."""
        self.covered: dict[UUID, float] = {}
        """The latest event time shown in a finished clip, by incident (no second clip)."""
        self._writes: set[asyncio.Task[None]] = set()
        self._encoder = asyncio.Semaphore(1)
        self._options = ClipOptions(
            settings.fps, settings.crf, settings.preset, settings.encoder_threads
        )

    def camera(self, camera_id: str, zones: list[OverlayZone] | None = None) -> CameraBuffer:
        """The media tap of a camera (created on first use); feed it frames and views."""
        buffer = self.buffers.get(camera_id)
        if buffer is None:
            buffer = CameraBuffer(camera_id, self.settings, zones or [])
            self.buffers[camera_id] = buffer
        elif zones is not None:
            buffer.zones = zones
        return buffer

    # -- lifecycle --

    async def run(self) -> None:
        """Follow incident events; finish clips whose post-roll has passed."""
        async with self.events.hub.subscribe() as queue:
            await self.adopt_open_incidents()
            follow_at = 0.0
            while True:
                event: StoredEvent | None = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(TICK_S):
                        event = await queue.get()
                if event is not None:
                    await self.on_event(event)
                while not queue.empty():
                    await self.on_event(queue.get_nowait())
                if time.monotonic() >= follow_at:
                    follow_at = time.monotonic() + FOLLOW_S
                    await self.follow_carried()
                await self.finish_due(time.time())

    async def close(self) -> None:
        """Finish every clip with the frames it has and wait for all files to be written."""
        for incident_id in list(self.recordings):
            self._finish(incident_id)
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # -- triggers --

    async def on_event(self, event: StoredEvent) -> None:
        if event.type not in (*TRIGGERS, EventType.INCIDENT_RESOLVED):
            return
        try:
            incident = Incident.model_validate(event.payload)
            if incident.state is IncidentState.RESOLVED:
                self.covered.pop(incident.incident_id, None)
                self.carried.pop(incident.incident_id, None)
                return
            source = await self.store.incident_source(incident.incident_id)
            if source is None:
                return
            opened = event.type is EventType.INCIDENT_OPENED
            await self._trigger(source, source.first_seen if opened else source.last_seen)
        except (MediaError, StoreError, sqlite3.Error, ValidationError) as err:
            log.error("media of incident %s: %s", event.payload.get("incident_id"), err)

    async def adopt_open_incidents(self) -> None:
        """At start: follow the camera incidents that are still open (see `follow_carried`)."""
        try:
            opened = await self.store.open_incidents()
        except (StoreError, sqlite3.Error) as err:
            log.error("cannot read the open incidents: %s", err)
            return
        self.carried = {i: s.last_seen for i, s in opened.items() if i not in self.recordings}

    async def follow_carried(self) -> None:
        """Record the first new event of each incident open before the start.

        The engine publishes a repeat only every `update_interval_s` after the incident's
        last update, which may have been before the stop, so the incidents table is read."""
        if not self.carried:
            return
        try:
            opened = await self.store.open_incidents()
            for incident_id, known in list(self.carried.items()):
                source = opened.get(incident_id)
                if source is None:  # resolved
                    del self.carried[incident_id]
                elif source.last_seen > known:
                    self.carried[incident_id] = source.last_seen
                    await self._trigger(source, source.last_seen)
        except (MediaError, StoreError, sqlite3.Error) as err:
            log.error("media of incidents open before the start: %s", err)

    async def _trigger(self, source: IncidentSource, at: datetime) -> None:
        """Snapshot (unless the incident has one) and clip of the incident's event at `at`."""
        if source.camera_id not in self.buffers:
            return
        if not await self.store.has_snapshot(source.incident_id):
            await self._snapshot(source, at)
        await self._record(source, at)
        if source.incident_id in self.recordings:
            self.carried.pop(source.incident_id, None)

    async def _record(self, source: IncidentSource, since: datetime) -> None:
        """Start a clip `pre_s` before `since`, or extend the incident's active clip."""
        last_seen = source.last_seen.timestamp()
        active = self.recordings.get(source.incident_id)
        if active is not None:
            active.extend(last_seen, self.settings.post_s)
            return
        if since.timestamp() <= self.covered.get(source.incident_id, -math.inf):
            return  # this event is in a finished clip already (an update heard twice)
        buffer = self.buffers[source.camera_id]
        collector = buffer.start_collecting(since.timestamp() - self.settings.pre_s - EDGE_S)
        frames = collector.frames
        if not frames or frames[0].captured_at > since.timestamp() + RING_SLACK_S:
            # camera down, or the event is older than the ring (from before a restart)
            buffer.stop_collecting(collector)
            log.info("camera %s: no frames around the event; no clip", source.camera_id)
            return
        first = collector.frames[0]
        media_id = new_id()
        started = datetime.fromtimestamp(first.captured_at, UTC)
        path = self._path(media_id, started, "mp4")
        cap_at = first.captured_at + self.settings.max_clip_s
        try:
            await self.store.begin(
                media_id,
                source.incident_id,
                source.camera_id,
                MediaKind.CLIP,
                CLIP_CONTENT_TYPE,
                path,
                started,
            )
        except BaseException:
            buffer.stop_collecting(collector)
            raise
        rec = Recording(media_id, source, buffer, collector, path, -math.inf, cap_at, -math.inf)
        rec.extend(max(last_seen, since.timestamp()), self.settings.post_s)
        self.recordings[source.incident_id] = rec
        log.info("camera %s: recording clip %s", source.camera_id, media_id)

    async def finish_due(self, now: float) -> None:
        """Finish clips whose end has passed, after one look for newer events.

        The engine publishes `incident.updated` at most every `update_interval_s`, so before a
        clip ends the incident's latest event time is read again and the end moved on."""
        for incident_id, rec in list(self.recordings.items()):
            if not self._due(rec, now):
                continue
            latest = await self.store.incident_source(incident_id)
            if latest is not None:
                rec.extend(latest.last_seen.timestamp(), self.settings.post_s)
            if self._due(rec, now):
                self._finish(incident_id)

    def _due(self, rec: Recording, now: float) -> bool:
        newest = rec.buffer.newest_in(rec.collector)
        stalled = now >= rec.end_at + self.settings.stall_grace_s
        return (newest is not None and newest >= rec.end_at - EDGE_S) or stalled

    def _finish(self, incident_id: UUID) -> None:
        rec = self.recordings.pop(incident_id)
        self.covered[incident_id] = rec.seen
        kept = rec.buffer.stop_collecting(rec.collector)
        frames = [f for f in kept if f.captured_at <= rec.cap_at]
        self._spawn(self._write_clip(rec, frames), f"clip {rec.media_id}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write_clip(self, rec: Recording, frames: list[BufferedFrame]) -> None:
        try:
            async with self._encoder:
                written = await asyncio.to_thread(encode_clip, frames, rec.path, self._options)
            await self.store.complete(
                rec.media_id,
                size_bytes=written.size_bytes,
                sha256=written.sha256,
                started_at=datetime.fromtimestamp(frames[0].captured_at, UTC),
                ended_at=datetime.fromtimestamp(frames[-1].captured_at, UTC),
                correlation_id=rec.source.correlation_id,
            )
            log.info(
                "camera %s: clip %s ready (%d frames, %d bytes)",
                rec.source.camera_id,
                rec.media_id,
                len(frames),
                written.size_bytes,
            )
        except (EncodeError, IndexError) as err:
            await self.store.fail(rec.media_id, str(err) or "no frames")
        except (MediaError, StoreError, sqlite3.Error) as err:
            log.error("clip %s could not be recorded as ready: %s", rec.media_id, err)

    # -- snapshots --

    async def _snapshot(self, source: IncidentSource, at: datetime) -> None:
        buffer = self.buffers[source.camera_id]
        t = at.timestamp()
        view = buffer.view_at(t)
        boxes: list[OverlayBox] = []
        if view is not None:
            image, boxes, captured_at = view.image, view.boxes, view.captured_at
        else:  # the inferred frame is gone: the nearest buffered one, without boxes
            nearest = buffer.ring.nearest(t)
            if nearest is None or abs(nearest.captured_at - t) > self.settings.pre_s:
                return
            image = await asyncio.to_thread(decode_jpeg, nearest.jpeg)
            captured_at = nearest.captured_at
        media_id = new_id()
        at = datetime.fromtimestamp(captured_at, UTC)
        path = self._path(media_id, at, "jpg")
        await self.store.begin(
            media_id,
            source.incident_id,
            source.camera_id,
            MediaKind.SNAPSHOT,
            SNAPSHOT_CONTENT_TYPE,
            path,
            at,
        )
        self._spawn(
            self._write_snapshot(media_id, source, image, boxes, buffer.zones, path, at),
            f"snapshot {media_id}",
        )

    async def _write_snapshot(
        self,
        media_id: UUID,
        source: IncidentSource,
        image: Image,
        boxes: list[OverlayBox],
        zones: list[OverlayZone],
        path: Path,
        at: datetime,
    ) -> None:
        def write() -> WrittenFile:
            scaled = fit_width(image, self.settings.max_width)
            return write_snapshot(scaled, boxes, zones, path, self.settings.jpeg_quality)

        try:
            written = await asyncio.to_thread(write)
            await self.store.complete(
                media_id,
                size_bytes=written.size_bytes,
                sha256=written.sha256,
                started_at=at,
                ended_at=at,
                correlation_id=source.correlation_id,
            )
        except EncodeError as err:
            await self.store.fail(media_id, str(err))
        except (MediaError, StoreError, sqlite3.Error) as err:
            log.error("snapshot %s could not be recorded as ready: %s", media_id, err)

    def _path(self, media_id: UUID, at: datetime, suffix: str) -> Path:
        day = at.astimezone(UTC).strftime("%Y-%m-%d")
        return self.media_dir / day / f"{media_id}.{suffix}"
