"""Farm events against ground truth over an hour of composed day and night video.

    python -m bench.event_quality [--cache-dir DIR] [--event-seconds 150] [--quiet-seconds 300]

Every scenario of `bench.farm_scenes` (escape, intruder, predator, animal down, head-count
drop, crowding, by day and by night, and quiet herds) is played through the real camera
pipeline: the camera's motion gate, the runner worker with the shipped detector, filters and
night profile, tracker, zones, analyzers and a real SQLite event store. Frames are fed as fast
as the pipeline takes them (no real-time pacing), stamped with their place in the video.

Then each scripted condition is looked up among the farm events: it is found when an event of
its kind first arrives no earlier than `EARLY_S` before the rule could report it (condition
start + the configured hold) and no later than `LATE_S` after. Every other case (correlation
id) is a false alarm unless it is a duplicate of a found condition (same kind, after it
started: e.g. a new track id for the same animal). Nothing from the truth enters the pipeline.

Prints a per-scenario breakdown; last line:
`BENCH event_quality recall=.. false_per_cam_hour=..`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from appliance.camera.analysis import FrameAnalyzer
from appliance.camera.frames import Frame, InferenceFrame
from appliance.camera.motion import InferenceGate
from appliance.camera.settings import CameraSettings
from appliance.inference import PluginSpec, Runner, RunnerSettings
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.settings import CameraPipelineSettings, VisionPipelineSettings
from appliance.store.db import Database
from appliance.store.events import EventStore
from appliance.vision.settings import NIGHT_MIN_SCORE
from bench.farm_scenes import (
    DEFAULT_CACHE,
    KIND_OF_CONDITION,
    RULE_DELAY_S,
    Say,
    Scenario,
    compose_all,
    frames,
    quality_scenarios,
    zones_of,
)
from contracts import EventType, FarmEvent

DEFAULT_MODEL_CACHE = Path.home() / ".cache" / "byre" / "ov-cache"
EARLY_S = 15.0  # detector boxes and truth boxes cross a zone edge at different moments
LATE_S = 15.0
DAY_START = datetime(2026, 6, 1, 12, 0).astimezone()  # local noon
NIGHT_START = datetime(2026, 6, 1, 23, 0).astimezone()  # local 23:00
PROGRESS_EVERY = 250  # inferred frames
TARGETS = {"recall": 0.95, "false_per_cam_hour": 1.0}


@dataclass(frozen=True)
class Case:
    """One correlation id: first report time (s into the video), kind and summary."""

    correlation_id: str
    kind: str
    first_s: float
    summary: str


@dataclass
class ScenarioResult:
    scenario: Scenario
    seconds: float
    inferred: int
    wall_s: float
    found: list[str] = field(default_factory=list)  # "kind +delay"
    missed: list[str] = field(default_factory=list)
    duplicates: list[Case] = field(default_factory=list)
    false: list[Case] = field(default_factory=list)

    @property
    def conditions(self) -> int:
        return len(self.found) + len(self.missed)

    def line(self) -> str:
        falses = ", ".join(f"{c.kind}@{c.first_s:.0f}s ({c.summary})" for c in self.false)
        return (
            f"{self.scenario.name:<26} {self.seconds:5.0f} s video in {self.wall_s:5.0f} s, "
            f"{self.inferred:4d} inferred | found {len(self.found)}/{self.conditions}"
            f"{' [' + ', '.join(self.found) + ']' if self.found else ''}"
            f"{' missed [' + ', '.join(self.missed) + ']' if self.missed else ''}"
            f" | duplicates {len(self.duplicates)} | false {len(self.false)}"
            f"{' [' + falses + ']' if falses else ''}"
        )


def runner_settings(model_cache: Path) -> RunnerSettings:
    config = {"type": "model", "cache_dir": str(model_cache), "score": NIGHT_MIN_SCORE}
    return RunnerSettings(load_timeout_s=600.0, plugins=[PluginSpec(name="coco", config=config)])


async def play(
    s: Scenario, cache: Path, runner: Runner, events: EventStore, say: Say
) -> tuple[int, float, float]:
    """Feed the scenario's video through a camera pipeline; (inferred, start epoch, seconds)."""
    truth = s.truth(cache)
    source = CameraSettings(id=s.camera_id, url=str(s.video(cache)), fps=s.fps)
    settings = CameraPipelineSettings(
        source=source,
        detector="coco",
        deadline_s=30.0,  # no real-time pacing: wait for the worker, however busy the machine
        zones=zones_of(truth),
        analyzers=list(s.analyzers),
    )
    processing = VisionPipelineSettings().processing  # the appliance's defaults
    pipeline = CameraPipeline(settings, processing, runner, events)
    motion = FrameAnalyzer(source)
    gate = InferenceGate(
        source.motion.min_changed_fraction, source.min_inference_interval_s, motion.gate
    )
    start = (NIGHT_START if s.night else DAY_START).timestamp()
    step = max(1, round(truth.fps / source.detect_fps))
    count = 0
    for number, image in enumerate(frames(s.video(cache)), start=1):
        count += 1
        if (number - 1) % step:
            continue
        at = start + (number - 1) / truth.fps
        stats = motion.motion(image)
        reason = gate.decide(stats.fraction, at, stats.prepared)
        if reason is None:
            continue
        frame = Frame(image, number, at, at)  # video time on both clocks
        await pipeline.process(InferenceFrame(frame, reason, stats.fraction, stats.brightness))
        if pipeline.next_look is not None:
            gate.request(pipeline.next_look)
        if pipeline.counters.inferred % PROGRESS_EVERY == 0:
            say(f"    {s.name}: {number / truth.fps:.0f} s of {truth.frame_count / truth.fps:.0f}")
    return pipeline.counters.inferred, start, count / truth.fps


async def cases_of(events: EventStore, camera_id: str, start: float) -> list[Case]:
    first: dict[str, Case] = {}
    after = 0
    while batch := await events.list_events(
        after_seq=after, limit=1000, types=[EventType.FARM_EVENT]
    ):
        after = batch[-1].seq
        for event in batch:
            farm = FarmEvent.model_validate(event.payload)
            if farm.camera_id != camera_id or event.correlation_id in first:
                continue
            first[event.correlation_id] = Case(
                event.correlation_id,
                farm.kind.value,
                event.occurred_at.timestamp() - start,
                farm.summary,
            )
    return sorted(first.values(), key=lambda c: c.first_s)


def judge(
    result: ScenarioResult, truth_conditions: Sequence[tuple[str, float]], cases: list[Case]
) -> None:
    """Match conditions (name, start s) to cases; fill found, missed, duplicates, false."""
    used: set[str] = set()
    for name, start in truth_conditions:
        kind = KIND_OF_CONDITION[name].value
        due = start + RULE_DELAY_S[name]
        match = next(
            (
                c
                for c in cases
                if c.kind == kind
                and c.correlation_id not in used
                and due - EARLY_S <= c.first_s <= due + LATE_S
            ),
            None,
        )
        if match is None:
            result.missed.append(name)
            continue
        used.add(match.correlation_id)
        result.found.append(f"{name} +{match.first_s - due:.1f}s")
    for case in cases:
        if case.correlation_id in used:
            continue
        duplicate = any(
            case.kind == KIND_OF_CONDITION[name].value and case.first_s >= start - EARLY_S
            for name, start in truth_conditions
        )
        (result.duplicates if duplicate else result.false).append(case)


async def measure(
    cache: Path, model_cache: Path, event_s: float, quiet_s: float, say: Say, only: str = ""
) -> list[ScenarioResult]:
    scenarios = [s for s in quality_scenarios(event_s, quiet_s) if only in s.name]
    await compose_all(scenarios, cache, say)
    results = []
    with tempfile.TemporaryDirectory(prefix="byre-quality-") as tmp:
        db = Database(Path(tmp) / "events.db")
        await db.open()
        try:
            events = EventStore(db)
            async with Runner(runner_settings(model_cache)) as runner:
                statuses = await runner.wait_settled(600.0)
                if statuses["coco"].state.value != "ready":
                    raise RuntimeError(f"detector not ready: {statuses['coco']}")
                for index, s in enumerate(scenarios, start=1):
                    began = time.monotonic()
                    inferred, start, seconds = await play(s, cache, runner, events, say)
                    wall = time.monotonic() - began
                    result = ScenarioResult(s, seconds, inferred, wall)
                    conditions = [(c.condition, c.start_s) for c in s.truth(cache).conditions]
                    judge(result, conditions, await cases_of(events, s.camera_id, start))
                    results.append(result)
                    say(f"[{index}/{len(scenarios)}] {result.line()}")
        finally:
            await db.close()
    return results


def summary(results: list[ScenarioResult]) -> tuple[float, float, float, float]:
    """recall, false alarms per camera-hour, video hours, wall seconds."""
    if not results:
        return 1.0, 0.0, 0.0, 0.0
    conditions = sum(r.conditions for r in results)
    found = sum(len(r.found) for r in results)
    hours = sum(r.seconds for r in results) / 3600
    false = sum(len(r.false) for r in results)
    wall = sum(r.wall_s for r in results)
    return (found / conditions if conditions else 1.0), false / hours, hours, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.event_quality")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="composed scenes")
    parser.add_argument("--model-cache", type=Path, default=DEFAULT_MODEL_CACHE)
    parser.add_argument("--event-seconds", type=float, default=150.0)
    parser.add_argument("--quiet-seconds", type=float, default=300.0)
    parser.add_argument("--only", default="", help="scenarios whose name contains this")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    results = asyncio.run(
        measure(
            args.cache_dir, args.model_cache, args.event_seconds, args.quiet_seconds, say, args.only
        )
    )
    recall, false_rate, hours, wall = summary(results)
    print("per scenario:")
    for result in results:
        print("  " + result.line())
    for night in (False, True):
        part = [r for r in results if r.scenario.night is night]
        r_recall, r_false, r_hours, _ = summary(part)
        print(
            f"{'night' if night else 'day'}: recall={r_recall:.2f} "
            f"false_per_cam_hour={r_false:.2f} over {r_hours:.2f} h"
        )
    print(
        f"{hours:.2f} h of video in {wall / 60:.1f} min ({hours * 3600 / wall:.1f}x real time); "
        f"targets: recall>={TARGETS['recall']:g} "
        f"{'met' if recall >= TARGETS['recall'] else 'NOT met'}, false_per_cam_hour<="
        f"{TARGETS['false_per_cam_hour']:g} "
        f"{'met' if false_rate <= TARGETS['false_per_cam_hour'] else 'NOT met'}"
    )
    print(f"BENCH event_quality recall={recall:.3f} false_per_cam_hour={false_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
