"""Replacing a plugin's model: a bad bundle is refused and the old model keeps detecting."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.inference import PluginRefused, PluginSpec, PluginState, Runner, RunnerSettings
from plugins.detectors.model import SHIPPED_BUNDLE
from tests.appliance.inference.conftest import FAST, MakeRunner, worker_children
from tests.conftest import eventually
from tests.plugins.conftest import photo


def copy_bundle(root: Path) -> Path:
    shutil.copytree(SHIPPED_BUNDLE, root)
    return root


def flip_label_byte(root: Path) -> None:
    labels = root / "labels.txt"
    data = bytearray(labels.read_bytes())
    data[0] ^= 0x01
    labels.write_bytes(bytes(data))


def wrong_manifest_sha(root: Path) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"][1]["sha256"] = "0" * 64
    (root / "manifest.json").write_text(json.dumps(manifest))


def remove_labels(root: Path) -> None:
    (root / "labels.txt").unlink()


def break_manifest(root: Path) -> None:
    (root / "manifest.json").write_text('{"schema_version": 1, "name": ')


def model_spec(bundle: Path, cache: Path, **extra: object) -> PluginSpec:
    config = {"type": "model", "bundle": str(bundle), "cache_dir": str(cache), **extra}
    return PluginSpec(name="coco", config=config)


@pytest.fixture(scope="session")
def model_cache(shipped_model_cache: Path) -> Path:
    """The compiled model, cached once per session so each worker loads in seconds."""
    return shipped_model_cache


class Watcher:
    """A camera asking for detections of a cow photo every 50 ms while the test runs."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.cows: list[float] = []  # when a result with a cow came back
        self.errors: list[Exception] = []
        self.frame = photo("cow")
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.wait([self._task])

    async def _run(self) -> None:
        while True:
            try:
                result = await self.runner.detect("cam-1", self.frame, plugin="coco", deadline_s=5)
                if any(d.label == "cow" for d in result.detections):
                    self.cows.append(time.monotonic())
            except Exception as err:  # noqa: BLE001 - every failure is recorded for the asserts
                self.errors.append(err)
            await asyncio.sleep(0.05)

    def cows_after(self, moment: float) -> int:
        return sum(1 for t in self.cows if t > moment)


@pytest.fixture
async def serving(tmp_path: Path, model_cache: Path, make_runner: MakeRunner) -> Runner:
    spec = model_spec(copy_bundle(tmp_path / "good"), model_cache)
    settings = RunnerSettings.model_validate(
        {**FAST, "load_timeout_s": 90.0, "plugins": [spec.model_dump()]}
    )
    started = await make_runner(settings)
    await started.runner.wait_settled(90.0)  # the first load in a session converts the model
    assert started.runner.status()["coco"].state is PluginState.READY
    return started.runner


@pytest.mark.parametrize(
    ("corrupt", "named"),
    [
        (flip_label_byte, "labels.txt: sha256"),
        (wrong_manifest_sha, "does not match manifest"),
        (remove_labels, "labels.txt: file is missing"),
        (break_manifest, "manifest.json"),
    ],
)
async def test_bad_bundle_is_refused_and_old_model_keeps_detecting(
    serving: Runner,
    tmp_path: Path,
    model_cache: Path,
    corrupt: Callable[[Path], None],
    named: str,
) -> None:
    bad = copy_bundle(tmp_path / "bad")
    corrupt(bad)
    before = serving.status()["coco"]
    async with Watcher(serving) as watcher:
        await asyncio.sleep(0.5)
        asked = time.monotonic()
        with pytest.raises(PluginRefused, match=named) as refused:
            await serving.replace("coco", model_spec(bad, model_cache))
        refused_at = time.monotonic()

        async def old_model_still_answers() -> bool:
            return watcher.cows_after(refused_at) >= 3

        await eventually(old_model_still_answers, 30.0)  # polled: inference is slow when loaded
    after = serving.status()["coco"]
    assert "old one kept" in str(refused.value)
    assert (after.state, after.pid) == (PluginState.READY, before.pid)
    assert watcher.errors == []
    assert watcher.cows_after(asked) - watcher.cows_after(refused_at) >= 1  # during the attempt
    assert watcher.cows_after(refused_at) >= 3  # and after it
    assert worker_children() == [before.pid]  # the refused worker is gone


async def test_good_bundle_takes_over_without_a_gap(
    serving: Runner, tmp_path: Path, model_cache: Path
) -> None:
    before = serving.status()["coco"]
    newer = copy_bundle(tmp_path / "newer")
    async with Watcher(serving) as watcher:
        await asyncio.sleep(0.5)
        status = await serving.replace("coco", model_spec(newer, model_cache, score=0.5))
        swapped = time.monotonic()

        async def new_model_answers() -> bool:
            return watcher.cows_after(swapped) >= 3

        await eventually(new_model_answers, 30.0)
    assert status.state is PluginState.READY
    assert status.pid not in (None, before.pid)
    assert watcher.errors == []
    assert watcher.cows_after(swapped) >= 3
    assert worker_children() == [status.pid]
