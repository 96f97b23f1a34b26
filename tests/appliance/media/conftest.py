"""Fixtures of the media tests: a real SQLite store, a scripted camera video, quick settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from appliance.camera.frames import Image
from appliance.incidents.engine import IncidentEngine
from appliance.incidents.settings import IncidentSettings
from appliance.inference import PluginSpec, PluginState, Runner, RunnerSettings
from appliance.media.encode import ClipOptions, encode_clip
from appliance.media.ring import BufferedFrame
from appliance.media.settings import MediaSettings
from appliance.store import Database, EventStore
from contracts import EventType, FarmEvent, FarmEventKind, Incident, Severity
from tests.appliance.camera.media import write_video
from tests.conftest import eventually

WIDTH, HEIGHT = 320, 240
SQUARE = (slice(80, 140), slice(100, 160))  # rows, columns of the scripted "animal"
VIDEO_FPS = 10.0
EVENT_FRAME = 30
"""Index of the first frame that shows the animal (3 s into the file)."""
VIDEO_FRAMES = 60


def make_media_settings(**overrides: Any) -> MediaSettings:
    values: dict[str, Any] = {"pre_s": 1.5, "post_s": 1.0, "fps": 5.0, "max_clip_s": 10.0}
    values.update(overrides)
    return MediaSettings.model_validate(values)


def scene_frame(index: int) -> Image:
    """Frame `index` of the scripted scene: a dark noisy pen; from EVENT_FRAME a white animal."""
    rng = np.random.default_rng(index)
    image = np.clip(rng.normal(40, 4, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
    if index >= EVENT_FRAME:
        image[SQUARE] = 255
    return image


def shows_animal(image: NDArray[Any]) -> bool:
    return float(image[SQUARE].mean()) > 160


def decode_image(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def read_image(path: Path) -> Image:
    return decode_image(path.read_bytes())


def scene_video(path: Path) -> Path:
    return write_video(path, [scene_frame(i) for i in range(VIDEO_FRAMES)], VIDEO_FPS)


def synthetic_clip(path: Path, seconds: float = 2.0, fps: float = 5.0) -> Path:
    """A real H.264 MP4 of the scripted scene (for API and browser tests)."""
    t0 = 1_700_000_000.0
    frames = []
    for i in range(round(seconds * fps)):
        ok, data = cv2.imencode(".jpg", scene_frame(i * 2))
        assert ok
        frames.append(BufferedFrame(t0 + i / fps, data.tobytes()))
    encode_clip(frames, path, ClipOptions(fps, 28, "veryfast", 1))
    return path


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[EventStore]:
    db = Database(tmp_path / "appliance.db")
    await db.open()
    yield EventStore(db)
    await db.close()


def farm_event(camera_id: str = "cam1", summary: str = "Cow out of the pen") -> FarmEvent:
    return FarmEvent(
        kind=FarmEventKind.ESCAPE,
        severity=Severity.WARNING,
        summary=summary,
        camera_id=camera_id,
        zone="pen",
        track_id=1,
        labels=["cow"],
    )


@dataclass
class OpenedIncident:
    incident: Incident
    event_at: datetime


async def open_incident(
    events: EventStore,
    engine: IncidentEngine,
    *,
    correlation_id: str = "cam1:escape:pen:1",
    camera_id: str = "cam1",
    at: datetime | None = None,
) -> OpenedIncident:
    """Record a camera farm event and let the engine open its incident."""
    when = at or datetime.now(UTC)
    await events.record(
        EventType.FARM_EVENT,
        farm_event(camera_id),
        correlation_id=correlation_id,
        occurred_at=when,
    )
    await engine.catch_up()
    incidents = await engine.list_incidents()
    incident = next(i for i in incidents if i.correlation_id == correlation_id)
    return OpenedIncident(incident, when)


def quick_incidents() -> IncidentSettings:
    return IncidentSettings(tick_s=0.1)


async def wait_until(predicate: Any, seconds: float = 30.0) -> None:
    await eventually(predicate, seconds)


@pytest.fixture
async def media_detector_runner(pipeline_model_cache: Path) -> AsyncIterator[Runner]:
    """The shipped detector; the first load converts the model (slow on a busy machine)."""
    config = {"type": "model", "cache_dir": str(pipeline_model_cache)}
    settings = RunnerSettings(
        load_timeout_s=300.0,
        heartbeat_timeout_s=30.0,
        plugins=[PluginSpec(name="coco", config=config)],
    )
    async with Runner(settings) as runner:
        statuses = await runner.wait_settled(300.0)
        assert statuses["coco"].state is PluginState.READY, statuses["coco"].reason
        yield runner


# a composed escape scene and the model cache, shared with the pipeline tests
from tests.appliance.pipeline.conftest import (  # noqa: E402
    escape_scene as escape_scene,
)
from tests.appliance.pipeline.conftest import (  # noqa: E402
    pipeline_model_cache as pipeline_model_cache,
)
