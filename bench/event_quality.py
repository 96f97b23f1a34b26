"""Farm events against ground truth over an hour of composed day and night video.

    python -m bench.event_quality [--cache-dir DIR] [--event-seconds 150] [--quiet-seconds 300]
                                  [--night-tiles]

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

    python -m bench.event_quality --latency-scenes [--seeds 1] [--detections-cache DIR]

`--latency-scenes` plays `bench.alert_latency`'s scenes instead (50 s by day, its analyzer
holds) through the same offline pipeline, and judges them with its windows: the delay from
when the rule could report a condition (start + hold) to its first farm event, in video time,
is an offline proxy of alert latency (no camera pacing, incident engine or alert channels).
Last line: `OFFLINE latency p50_ms=.. p99_ms=.. events=.. missed=..`.

`--detections-cache DIR` keeps the detector's results in DIR (see `bench.detections_cache`):
a re-run with the same videos and model reads boxes from there instead of inferring, which is
what a change to analyzers, tracker, zones or filters needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

from appliance.camera.analysis import FrameAnalyzer
from appliance.camera.frames import Frame, InferenceFrame
from appliance.camera.motion import InferenceGate
from appliance.camera.settings import CameraSettings
from appliance.inference import PluginSpec, Runner, RunnerSettings
from appliance.pipeline.camera import CameraPipeline
from appliance.pipeline.settings import CameraPipelineSettings, VisionPipelineSettings
from appliance.pipeline.tiles import NightTilesSettings
from appliance.store.db import Database
from appliance.store.events import EventStore
from appliance.vision.settings import NIGHT_MIN_SCORE
from bench import alert_latency
from bench.detections_cache import FILE_NAME, CachedRunner, Detects
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
    delays_s: list[float] = field(default_factory=list)  # of the found, in `found` order

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
    s: Scenario,
    cache: Path,
    runner: Detects,
    events: EventStore,
    say: Say,
    night_tiles: bool = False,
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
        night_tiles=NightTilesSettings(enabled=night_tiles),
    )
    processing = VisionPipelineSettings().processing  # the appliance's defaults
    # the pipeline calls only `detect` on its runner, which a CachedRunner has too
    pipeline = CameraPipeline(settings, processing, cast(Runner, runner), events)
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
        await pipeline.process(
            InferenceFrame(frame, reason, stats.fraction, stats.brightness, stats.prepared)
        )
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
    result: ScenarioResult,
    truth_conditions: Sequence[tuple[str, float]],
    cases: list[Case],
    delays: dict[str, float] = RULE_DELAY_S,
    early_s: float = EARLY_S,
    late_s: float = LATE_S,
) -> None:
    """Match conditions (name, start s) to cases; fill found, missed, duplicates, false.

    A condition is due `delays[name]` after its start (the rule's hold); a case of its kind
    counts from `early_s` before to `late_s` after that."""
    used: set[str] = set()
    for name, start in truth_conditions:
        kind = KIND_OF_CONDITION[name].value
        due = start + delays[name]
        match = next(
            (
                c
                for c in cases
                if c.kind == kind
                and c.correlation_id not in used
                and due - early_s <= c.first_s <= due + late_s
            ),
            None,
        )
        if match is None:
            result.missed.append(name)
            continue
        used.add(match.correlation_id)
        result.found.append(f"{name} +{match.first_s - due:.1f}s")
        result.delays_s.append(match.first_s - due)
    for case in cases:
        if case.correlation_id in used:
            continue
        duplicate = any(
            case.kind == KIND_OF_CONDITION[name].value and case.first_s >= start - early_s
            for name, start in truth_conditions
        )
        (result.duplicates if duplicate else result.false).append(case)


def judge_latency(
    result: ScenarioResult, truth_conditions: Sequence[tuple[str, float]], cases: list[Case]
) -> None:
    """`judge` as `bench.alert_latency` times a scene: due after its preset's hold, found from
    its EARLY_S before to its WAIT_S after."""
    hold = alert_latency.hold_of(result.scenario.preset)
    delays = dict.fromkeys(KIND_OF_CONDITION, hold)
    judge(result, truth_conditions, cases, delays, alert_latency.EARLY_S, alert_latency.WAIT_S)


async def measure(
    scenarios: list[Scenario],
    cache: Path,
    model_cache: Path,
    say: Say,
    latency: bool = False,
    detections_cache: Path | None = None,
    night_tiles: bool = False,
) -> tuple[list[ScenarioResult], str]:
    """Play and judge every scenario (`judge_latency` when `latency`); the results and the
    detections cache's hits and misses (empty without a cache)."""
    await compose_all(scenarios, cache, say)
    results = []
    stats = ""
    with tempfile.TemporaryDirectory(prefix="byre-quality-") as tmp:
        db = Database(Path(tmp) / "events.db")
        await db.open()
        try:
            events = EventStore(db)
            async with contextlib.AsyncExitStack() as stack:
                runner = Runner(runner_settings(model_cache))

                async def start() -> None:
                    await stack.enter_async_context(runner)
                    statuses = await runner.wait_settled(600.0)
                    if statuses["coco"].state.value != "ready":
                        raise RuntimeError(f"detector not ready: {statuses['coco']}")

                detects: Detects = runner
                cached = None
                if detections_cache is None:
                    await start()
                else:  # the model is loaded on the first frame the cache does not know
                    path = detections_cache / FILE_NAME
                    cached = detects = CachedRunner(runner, path, before_miss=start)
                try:
                    for index, s in enumerate(scenarios, start=1):
                        began = time.monotonic()
                        inferred, start_at, seconds = await play(
                            s, cache, detects, events, say, night_tiles
                        )
                        wall = time.monotonic() - began
                        result = ScenarioResult(s, seconds, inferred, wall)
                        conditions = [(c.condition, c.start_s) for c in s.truth(cache).conditions]
                        cases = await cases_of(events, s.camera_id, start_at)
                        (judge_latency if latency else judge)(result, conditions, cases)
                        results.append(result)
                        say(f"[{index}/{len(scenarios)}] {result.line()}")
                finally:
                    if cached is not None:
                        cached.close()
                        stats = cached.stats()
        finally:
            await db.close()
    return results, stats


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


def offline_latency(results: list[ScenarioResult]) -> str:
    """The last line of `--latency-scenes`, named like `bench.alert_latency`'s."""
    samples = [d * 1000 for r in results for d in r.delays_s]
    p50 = statistics.median(samples) if samples else float("nan")
    p99 = alert_latency.percentile(samples, 0.99) if samples else float("nan")
    events = sum(r.conditions for r in results)
    missed = sum(len(r.missed) for r in results)
    return f"OFFLINE latency p50_ms={p50:.0f} p99_ms={p99:.0f} events={events} missed={missed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.event_quality")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="composed scenes")
    parser.add_argument("--model-cache", type=Path, default=DEFAULT_MODEL_CACHE)
    parser.add_argument("--event-seconds", type=float, default=150.0)
    parser.add_argument("--quiet-seconds", type=float, default=300.0)
    parser.add_argument("--only", default="", help="scenarios whose name contains this")
    parser.add_argument(
        "--detections-cache",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"keep detections in DIR/{FILE_NAME} and reuse them (default: always infer)",
    )
    parser.add_argument(
        "--latency-scenes",
        action="store_true",
        help="play bench.alert_latency's scenes and print the offline alert latency",
    )
    parser.add_argument("--seeds", type=int, default=1, help="--latency-scenes: scenes per preset")
    parser.add_argument(
        "--night-tiles", action="store_true", help="turn the cameras' night tiles on"
    )
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    if args.latency_scenes:
        scenarios = alert_latency.latency_scenarios(args.seeds)
    else:
        scenarios = quality_scenarios(args.event_seconds, args.quiet_seconds)
    scenarios = [s for s in scenarios if args.only in s.name]
    results, cache_stats = asyncio.run(
        measure(
            scenarios,
            args.cache_dir,
            args.model_cache,
            say,
            latency=args.latency_scenes,
            detections_cache=args.detections_cache,
            night_tiles=args.night_tiles,
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
    if cache_stats:
        print(cache_stats)
    if args.latency_scenes:
        print(offline_latency(results))
    else:
        print(f"BENCH event_quality recall={recall:.3f} false_per_cam_hour={false_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
