"""Fixtures of the pipeline tests: a composed scene, a runner with the shipped detector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.inference import PluginSpec, PluginState, Runner, RunnerSettings
from appliance.scenes.compose import Settings, compose
from appliance.scenes.truth import SceneTruth
from appliance.store.db import Database
from appliance.store.events import EventStore
from appliance.vision.zones import zones_of_scene


@pytest.fixture(scope="session")
def pipeline_model_cache(shipped_model_cache: Path) -> Path:
    return shipped_model_cache


@pytest.fixture(scope="session")
def escape_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SceneTruth]:
    out = tmp_path_factory.mktemp("scenes")
    result = compose(Settings(scene="escape", seconds=20.0), out)
    return result.video, result.truth


# other modules import it from here
zones_of = zones_of_scene


@pytest.fixture
async def detector_runner(pipeline_model_cache: Path) -> AsyncIterator[Runner]:
    config = {"type": "model", "cache_dir": str(pipeline_model_cache)}
    settings = RunnerSettings(load_timeout_s=90.0, plugins=[PluginSpec(name="coco", config=config)])
    async with Runner(settings) as runner:
        statuses = await runner.wait_settled(90.0)
        assert statuses["coco"].state is PluginState.READY, statuses["coco"].reason
        yield runner


@pytest.fixture
async def event_store(tmp_path: Path) -> AsyncIterator[EventStore]:
    db = Database(tmp_path / "events.db")
    await db.open()
    try:
        yield EventStore(db)
    finally:
        await db.close()
