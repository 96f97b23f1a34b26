"""The media row turns ready in the same transaction as its `incident.media_ready` event."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import cv2
import pytest
from pydantic import ValidationError

from appliance.media.errors import MediaNotFound, MediaNotReady
from appliance.media.store import CUT_OFF, MediaStore
from appliance.store import EventStore
from contracts import EventType, MediaKind, new_id
from tests.appliance.media.conftest import scene_frame, synthetic_clip

SHA = "ab" * 32
START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


async def begin_clip(store: MediaStore, path: Path, incident_id: UUID | None = None) -> UUID:
    media_id = new_id()
    await store.begin(media_id, incident_id, "cam1", MediaKind.CLIP, "video/mp4", path, START)
    return media_id


async def counts(events: EventStore) -> tuple[int, int]:
    rows = await events.db.fetch_all("SELECT (SELECT COUNT(*) FROM events), COUNT(*) FROM outbox")
    return rows[0][0], rows[0][1]


async def state_of(events: EventStore, media_id: UUID) -> str:
    row = await events.db.fetch_one("SELECT state FROM media WHERE media_id = ?", (str(media_id),))
    assert row is not None
    return str(row["state"])


async def test_ready_row_event_and_outbox_row_commit_together(
    tmp_path: Path, events: EventStore
) -> None:
    store = MediaStore(events)
    media_id = await begin_clip(store, tmp_path / "a.mp4")
    event = await store.complete(
        media_id,
        size_bytes=1234,
        sha256=SHA,
        started_at=START,
        ended_at=START + timedelta(seconds=15),
        correlation_id="cam1:escape:pen:1",
    )
    assert await state_of(events, media_id) == "ready"
    assert event.type is EventType.MEDIA_READY
    assert event.payload["media_id"] == str(media_id)
    assert event.payload["size_bytes"] == 1234
    (pending,) = await events.pending(10)
    assert pending.event.id == event.id


async def test_a_failed_outbox_write_leaves_the_row_recording(
    tmp_path: Path, events: EventStore
) -> None:
    store = MediaStore(events)
    media_id = await begin_clip(store, tmp_path / "a.mp4")
    await events.db.conn.execute(
        "CREATE TEMP TRIGGER outbox_full BEFORE INSERT ON outbox"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        await store.complete(
            media_id,
            size_bytes=1234,
            sha256=SHA,
            started_at=START,
            ended_at=START,
            correlation_id="c",
        )
    assert await state_of(events, media_id) == "recording"
    assert await counts(events) == (0, 0)  # the event insert was rolled back too


async def test_an_invalid_record_changes_nothing(tmp_path: Path, events: EventStore) -> None:
    store = MediaStore(events)
    media_id = await begin_clip(store, tmp_path / "a.mp4")
    with pytest.raises(ValidationError):
        await store.complete(
            media_id, size_bytes=0, sha256=SHA, started_at=START, ended_at=START, correlation_id="c"
        )
    assert await state_of(events, media_id) == "recording"
    assert await counts(events) == (0, 0)


async def test_only_a_recording_file_can_be_completed(tmp_path: Path, events: EventStore) -> None:
    store = MediaStore(events)
    with pytest.raises(MediaNotFound):
        await store.complete(
            new_id(), size_bytes=1, sha256=SHA, started_at=START, ended_at=START, correlation_id="c"
        )
    assert await counts(events) == (0, 0)


async def test_serving_states(tmp_path: Path, events: EventStore) -> None:
    store = MediaStore(events)
    media_id = await begin_clip(store, tmp_path / "a.mp4")
    with pytest.raises(MediaNotReady):
        await store.file(media_id)
    await store.fail(media_id, "encoder broke")
    with pytest.raises(MediaNotFound, match="failed"):
        await store.file(media_id)
    with pytest.raises(MediaNotFound):
        await store.file(new_id())


async def test_files_cut_off_by_a_stop_are_marked_failed_and_removed(
    tmp_path: Path, events: EventStore
) -> None:
    store = MediaStore(events)
    path = tmp_path / "media" / "b.mp4"
    path.parent.mkdir()
    part = path.with_name(path.name + ".part")
    part.write_bytes(b"half a clip")
    media_id = await begin_clip(store, path)
    settled = await store.settle_unfinished()
    assert (settled.finished, settled.failed) == (0, 1)
    row = await store.get(media_id)
    assert (row.state, row.error) == ("failed", CUT_OFF)
    assert not part.exists()
    assert await counts(events) == (0, 0)  # nothing is announced for a broken file
    assert (await store.settle_unfinished()).failed == 0  # a second start changes nothing


async def test_a_complete_file_whose_row_a_stop_left_recording_is_finished(
    tmp_path: Path, events: EventStore
) -> None:
    """The stop came between the file's rename and the transaction that marks it ready."""
    store = MediaStore(events)
    clip = synthetic_clip(tmp_path / "media" / "c.mp4", seconds=2.0, fps=5.0)
    snapshot = tmp_path / "media" / "c.jpg"
    ok, jpeg = cv2.imencode(".jpg", scene_frame(40))
    assert ok
    snapshot.write_bytes(jpeg.tobytes())
    clip_id = await begin_clip(store, clip)
    snapshot_id = new_id()
    await store.begin(snapshot_id, None, "cam1", MediaKind.SNAPSHOT, "image/jpeg", snapshot, START)
    settled = await store.settle_unfinished()
    assert (settled.finished, settled.failed) == (2, 0)
    row = await store.get(clip_id)
    assert row.state == "ready"
    assert row.size_bytes == clip.stat().st_size
    assert row.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert row.ended_at == START + timedelta(seconds=1.8)  # 10 frames at 5 fps
    assert (await store.get(snapshot_id)).state == "ready"
    announced = await events.list_events(types=[EventType.MEDIA_READY])
    assert {e.payload["media_id"] for e in announced} == {str(clip_id), str(snapshot_id)}


async def test_an_unreadable_file_under_the_final_name_fails(
    tmp_path: Path, events: EventStore
) -> None:
    store = MediaStore(events)
    path = tmp_path / "d.mp4"
    path.write_bytes(b"not a video")
    media_id = await begin_clip(store, path)
    assert (await store.settle_unfinished()).failed == 1
    assert await state_of(events, media_id) == "failed"
    assert not path.exists()
