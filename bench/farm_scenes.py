"""Composed farm scenarios shared by the event benches: scenes, camera configs, expectations.

Each scenario is one camera: a composed scene (day or night), the zones drawn on it and the
analyzers a farmer would switch on for that view. Videos are composed once into a cache folder
(child processes, two at a time) and reused while their settings stay the same.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from appliance.analyzers.counts import CrowdingConfig, HeadcountConfig
from appliance.analyzers.down import AnimalDownConfig
from appliance.analyzers.escape import EscapeConfig
from appliance.analyzers.intruders import IntruderConfig, PredatorConfig
from appliance.analyzers.registry import AnalyzerSettings
from appliance.scenes.truth import SceneTruth, read_truth
from appliance.vision.zones import zones_of_scene
from contracts import FarmEventKind

DEFAULT_CACHE = Path.home() / ".cache" / "byre" / "bench-scenes"
LYING_S = 30.0  # animal down: a cow lying still this long (the farm default is 20 min)
HOLD_S = 20.0  # head-count drop and crowding must hold this long
TRUTH_VERSION = 3  # how compose decides conditions; raise it to compose cached scenes anew

Say = Callable[[str], None]

KIND_OF_CONDITION = {
    "escape": FarmEventKind.ESCAPE,
    "intruder": FarmEventKind.INTRUDER,
    "predator": FarmEventKind.PREDATOR,
    "animal_down": FarmEventKind.ANIMAL_DOWN,
    "headcount_drop": FarmEventKind.HEADCOUNT_DROP,
    "crowding": FarmEventKind.CROWDING,
}
# how long after the condition starts its rule may first report it (the configured hold)
RULE_DELAY_S = {
    "escape": 0.0,
    "intruder": 0.0,
    "predator": 0.0,
    "animal_down": LYING_S,
    "headcount_drop": HOLD_S,
    "crowding": HOLD_S,
}


def base_analyzers() -> list[AnalyzerSettings]:
    """What every camera runs: escape, intruder, predator, animal down (bench hold times)."""
    return [
        EscapeConfig(),
        IntruderConfig(),
        PredatorConfig(),
        AnimalDownConfig(lying_s=LYING_S),
    ]


def analyzers_for(preset: str) -> list[AnalyzerSettings]:
    """The camera config a farmer would give this view (counts are the herd they keep)."""
    extra: dict[str, list[AnalyzerSettings]] = {
        "headcount_drop": [HeadcountConfig(expected={"pen": 4}, hold_s=HOLD_S)],
        "crowding": [CrowdingConfig(max_animals={"trough": 2}, hold_s=HOLD_S)],
        "herd_grazing": [
            HeadcountConfig(expected={"pen": 3}, labels=["cow"], hold_s=HOLD_S),
            CrowdingConfig(max_animals={"gate": 2}, hold_s=HOLD_S),
        ],
    }
    return base_analyzers() + extra.get(preset, [])


@dataclass(frozen=True)
class Scenario:
    preset: str
    night: bool
    seed: int
    seconds: float
    fps: float = 5.0
    analyzers: list[AnalyzerSettings] = field(default_factory=list, compare=False)

    @property
    def name(self) -> str:
        return f"{self.preset}{'_night' if self.night else ''}_s{self.seed}"

    @property
    def camera_id(self) -> str:
        return self.name.replace("_", "-")

    def folder(self, cache: Path) -> Path:
        return cache / f"{self.name}_{self.seconds:g}s_{self.fps:g}fps_t{TRUTH_VERSION}"

    def video(self, cache: Path) -> Path:
        stem = f"{self.preset}_night" if self.night else self.preset
        return self.folder(cache) / f"{stem}.mp4"

    def truth(self, cache: Path) -> SceneTruth:
        return read_truth(self.video(cache).with_suffix(".json"))


def scenario(preset: str, night: bool, seed: int, seconds: float) -> Scenario:
    return Scenario(preset, night, seed, seconds, analyzers=analyzers_for(preset))


async def compose_all(scenarios: list[Scenario], cache: Path, say: Say, parallel: int = 2) -> None:
    """Compose every scenario not in the cache yet (child processes, `parallel` at a time)."""
    todo = [s for s in scenarios if not s.video(cache).with_suffix(".json").exists()]
    if not todo:
        say(f"all {len(scenarios)} scenes are in the cache {cache}")
        return
    say(f"composing {len(todo)} scenes into {cache} ({parallel} at a time)")
    started = time.monotonic()
    limit = asyncio.Semaphore(parallel)
    done = 0

    async def one(s: Scenario) -> None:
        nonlocal done
        args = ["--scene", s.preset, "--out", str(s.folder(cache)), "--quiet"]
        args += ["--seconds", f"{s.seconds:g}", "--fps", f"{s.fps:g}", "--seed", str(s.seed)]
        if s.night:
            args.append("--night")
        async with limit:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "appliance.scenes",
                *args,
                stdout=asyncio.subprocess.DEVNULL,
            )
            if await child.wait() != 0:
                raise RuntimeError(f"composing {s.name} failed")
        done += 1
        say(f"  composed {s.name} ({done}/{len(todo)}, {time.monotonic() - started:.0f} s)")

    await asyncio.gather(*(one(s) for s in todo))


# other modules import it from here
zones_of = zones_of_scene


EVENT_PRESETS = ("escape", "intruder", "predator", "animal_down", "headcount_drop", "crowding")
QUIET_PRESET = "herd_grazing"


def quality_scenarios(event_s: float = 150.0, quiet_s: float = 300.0) -> list[Scenario]:
    """Every scripted event by day and by night, and quiet herds: one hour of video."""
    events = [scenario(p, night, 1, event_s) for p in EVENT_PRESETS for night in (False, True)]
    quiet = [
        scenario(QUIET_PRESET, night, seed, quiet_s)
        for night in (False, True)
        for seed in (1, 2, 3)
    ]
    return events + quiet


def frames(video: Path) -> Iterator[np.ndarray]:
    """The decoded frames of `video`, in order."""
    capture = cv2.VideoCapture(str(video))
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield np.asarray(image, dtype=np.uint8)
    finally:
        capture.release()
