"""Startup and shutdown of the media context: store, recorder and retention."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from appliance.media.recorder import MediaRecorder
from appliance.media.retention import Retention
from appliance.media.settings import MediaSettings
from appliance.media.store import MediaStore
from appliance.store.events import EventStore
from appliance.tasks import background

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Media:
    """What the rest of the appliance uses of the media context."""

    settings: MediaSettings
    store: MediaStore
    recorder: MediaRecorder | None
    """None when recording is disabled (stored media is still served and retained)."""
    retention: Retention


@contextlib.asynccontextmanager
async def media_context(
    settings: MediaSettings, events: EventStore, data_dir: Path
) -> AsyncIterator[Media]:
    media_dir = data_dir / "media"
    store = MediaStore(events)
    settled = await store.settle_unfinished()
    if settled.finished or settled.failed:
        log.warning(
            "the last stop left %d media files unmarked: %d were complete and are now ready,"
            " %d were cut off and are now failed",
            settled.finished + settled.failed,
            settled.finished,
            settled.failed,
        )
    retention = Retention(settings.retention, store, media_dir)
    if leftovers := await retention.remove_leftovers():
        log.warning("deleted %d files of evicted media left by the last stop", leftovers)
    recorder = MediaRecorder(settings, events, store, media_dir) if settings.enabled else None
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(background(retention.run(), "media retention"))
        if recorder is not None:
            # unwound in reverse: the loop stops first, then open clips are finished
            stack.push_async_callback(recorder.close)
            await stack.enter_async_context(background(recorder.run(), "media recorder"))
        yield Media(settings, store, recorder, retention)
