"""What the detector sees of the scripted actors in the composed farm scenes, day and night.

    python -m bench.detection_recall [--cache-dir DIR] [--seconds 60] [--stride 1] [--only NAME]

Every scenario of `bench.farm_scenes` (day and night) is played frame by frame at the
pipeline's detection rate through the real detector path: the runner worker with the shipped
detector (its preprocessing included), then the appliance's default filters and night profile
(`VisionSettings`), then the tracker. Each kept box is compared with the scene's truth boxes:

- a box matches a truth box when their IoU is at least `MATCH_IOU` or the box's centre lies
  inside the truth box; each box goes to the truth box it matches best (highest IoU);
- recall: truth boxes (seen at least `MIN_VISIBILITY`) matched by a box of the right label;
  `any` also counts a box of another label (a cow called a horse); `iou` only counts boxes
  that overlap by IoU (not a part box centred inside);
- false: boxes that match no truth box at all;
- fragments: truth boxes matched by more than one box (one animal seen as several);
- merged: boxes whose area holds the centres of two or more truth boxes while matching none of
  them well (several animals seen as one);
- ids: distinct confirmed track ids per actor (1 is ideal; more means the tracker lost it).

Last line: `BENCH detection_recall day=<recall> night=<recall> fragments_per_frame=<..>`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from appliance.inference import PluginSpec, Runner, RunnerSettings
from appliance.pipeline.settings import VisionPipelineSettings
from appliance.scenes.truth import ObjectBox, SceneTruth
from appliance.vision.profile import ProfileSelector, mean_luma
from appliance.vision.settings import NIGHT_MIN_SCORE
from appliance.vision.tracker import Tracker
from bench.farm_scenes import (
    DEFAULT_CACHE,
    Say,
    Scenario,
    compose_all,
    frames,
    quality_scenarios,
)
from contracts.vision import Detection
from plugins.detectors.model import ModelDetectorConfig
from plugins.lowlight import lift

DEFAULT_MODEL_CACHE = Path.home() / ".cache" / "byre" / "ov-cache"
MATCH_IOU = 0.3
MIN_VISIBILITY = 0.5  # truth boxes less visible than this are not required (frame edge, overlap)
DAY_START = datetime(2026, 6, 1, 12, 0).astimezone()
NIGHT_START = datetime(2026, 6, 1, 23, 0).astimezone()


@dataclass
class ClassStats:
    boxes: int = 0  # truth boxes required
    found: int = 0  # matched by a box of the right label
    found_any: int = 0  # matched by a box of any label
    found_iou: int = 0  # matched by a box of the right label with IoU >= MATCH_IOU (not a part)
    fragmented: int = 0


@dataclass
class ScenarioStats:
    scenario: Scenario
    frames: int = 0
    false: int = 0
    merged: int = 0
    infer_ms: list[float] = field(default_factory=list)
    classes: dict[str, ClassStats] = field(default_factory=lambda: defaultdict(ClassStats))
    false_labels: Counter[str] = field(default_factory=Counter)
    ids: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    def total(self) -> ClassStats:
        out = ClassStats()
        for c in self.classes.values():
            out.boxes += c.boxes
            out.found += c.found
            out.found_any += c.found_any
            out.fragmented += c.fragmented
        return out

    def lines(self) -> list[str]:
        t = self.total()
        ids = [len(v) for v in self.ids.values()]
        head = (
            f"{self.scenario.name:<24} frames {self.frames:4d} | recall {_ratio(t.found, t.boxes)}"
            f" any {_ratio(t.found_any, t.boxes)} | false/frame "
            f"{self.false / max(self.frames, 1):.2f}"
            f" {dict(self.false_labels.most_common(3))} | fragments/frame "
            f"{t.fragmented / max(self.frames, 1):.2f} merged/frame "
            f"{self.merged / max(self.frames, 1):.2f} | ids/actor "
            f"{statistics.mean(ids) if ids else 0:.1f} | infer "
            f"{statistics.median(self.infer_ms) if self.infer_ms else 0:.1f} ms"
        )
        rows = [head]
        for label, c in sorted(self.classes.items()):
            rows.append(
                f"    {label:<7} boxes {c.boxes:5d} recall {_ratio(c.found, c.boxes)} "
                f"any {_ratio(c.found_any, c.boxes)} iou {_ratio(c.found_iou, c.boxes)} "
                f"fragmented {c.fragmented}"
            )
        return rows


def _ratio(n: int, d: int) -> str:
    return f"{n / d:.3f}" if d else "  -  "


def norm_boxes(objects: Sequence[ObjectBox], width: int, height: int) -> np.ndarray:
    rows = [
        (o.bbox[0] / width, o.bbox[1] / height, o.bbox[2] / width, o.bbox[3] / height)
        for o in objects
    ]
    return np.array(rows, dtype=np.float64).reshape(len(rows), 4)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    iy = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: np.ndarray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def centres_inside(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """[i, j]: point i lies inside box j."""
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    return (
        (x >= boxes[None, :, 0])
        & (x <= boxes[None, :, 2])
        & (y >= boxes[None, :, 1])
        & (y <= boxes[None, :, 3])
    )


def assign(dets: Sequence[Detection], truth: np.ndarray) -> list[int]:
    """For each detection the index of the truth box it matches best, or -1."""
    if not dets or not len(truth):
        return [-1] * len(dets)
    boxes = np.array([(d.x1, d.y1, d.x2, d.y2) for d in dets], dtype=np.float64)
    overlap = iou(boxes, truth)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    ok = (overlap >= MATCH_IOU) | centres_inside(centres, truth)
    score = np.where(ok, overlap + 1e-6, -1.0)
    best = score.argmax(axis=1)
    return [int(j) if score[i, j] > 0 else -1 for i, j in enumerate(best)]


def merged_count(dets: Sequence[Detection], truth: np.ndarray) -> int:
    """Boxes that hold two or more truth centres and overlap none of those boxes by >= 0.5."""
    if not dets or len(truth) < 2:
        return 0
    boxes = np.array([(d.x1, d.y1, d.x2, d.y2) for d in dets], dtype=np.float64)
    holds = centres_inside((truth[:, :2] + truth[:, 2:]) / 2, boxes).T  # [det, truth]
    overlap = iou(boxes, truth)
    return int(
        sum(1 for i in range(len(dets)) if holds[i].sum() >= 2 and overlap[i][holds[i]].max() < 0.5)
    )


def score_frame(
    stats: ScenarioStats,
    dets: Sequence[Detection],
    objects: Sequence[ObjectBox],
    size: tuple[int, int],
) -> dict[int, int]:
    """Count one frame; returns detection index -> truth track id for matched boxes."""
    truth = norm_boxes(objects, *size)
    owner = assign(dets, truth)
    overlap = [
        float(iou(np.array([(d.x1, d.y1, d.x2, d.y2)]), truth[j : j + 1])[0, 0]) if j >= 0 else 0.0
        for d, j in zip(dets, owner, strict=True)
    ]
    matched: dict[int, list[int]] = defaultdict(list)
    for i, j in enumerate(owner):
        if j >= 0:
            matched[j].append(i)
        else:
            stats.false += 1
            stats.false_labels[dets[i].label] += 1
    for j, obj in enumerate(objects):
        if obj.visibility < MIN_VISIBILITY:
            continue
        c = stats.classes[obj.label]
        c.boxes += 1
        mine = matched.get(j, [])
        c.found_any += bool(mine)
        c.found += any(dets[i].label == obj.label for i in mine)
        c.found_iou += any(dets[i].label == obj.label and overlap[i] >= MATCH_IOU for i in mine)
        c.fragmented += len(mine) > 1
    stats.merged += merged_count(dets, truth[[o.visibility >= MIN_VISIBILITY for o in objects]])
    stats.frames += 1
    return {i: objects[j].track_id for i, j in enumerate(owner) if j >= 0}


def runner_settings(model_cache: Path) -> RunnerSettings:
    config = {"type": "model", "cache_dir": str(model_cache), "score": NIGHT_MIN_SCORE}
    return RunnerSettings(load_timeout_s=600.0, plugins=[PluginSpec(name="coco", config=config)])


async def play(
    s: Scenario, truth: SceneTruth, video: Path, runner: Runner, stride: int = 1
) -> ScenarioStats:
    processing = VisionPipelineSettings().processing  # the appliance's defaults
    selector = ProfileSelector(processing.filters, processing.night)
    tracker = Tracker(processing.tracker)
    stats = ScenarioStats(s)
    start = (NIGHT_START if s.night else DAY_START).timestamp()
    step = max(1, round(truth.fps / s.fps)) * stride
    by_frame = {f.frame: f.objects for f in truth.frames}
    for index, image in enumerate(frames(video)):
        if index % step:
            continue
        at = start + index / truth.fps
        result = await runner.detect(s.camera_id, image, plugin="coco", deadline_s=30.0)
        stats.infer_ms.append(result.infer_ms)
        height, width = image.shape[:2]
        profile = selector.select_profile(datetime.fromtimestamp(at).astimezone(), mean_luma(image))
        dets = profile.apply(result.detections, width / height)
        owners = score_frame(stats, dets, by_frame.get(index, []), (width, height))
        update = tracker.update(dets, at)
        index_of = {id(d): i for i, d in enumerate(dets)}
        for track in update.confirmed:
            i = index_of.get(id(track.detection))
            if i is not None and i in owners:
                stats.ids[owners[i]].add(track.id)
    return stats


async def measure(
    cache: Path, model_cache: Path, seconds: float, say: Say, only: str = "", stride: int = 1
) -> list[ScenarioStats]:
    scenarios = [s for s in quality_scenarios(seconds, seconds) if only in s.name]
    await compose_all(scenarios, cache, say)
    out = []
    async with Runner(runner_settings(model_cache)) as runner:
        statuses = await runner.wait_settled(600.0)
        if statuses["coco"].state.value != "ready":
            raise RuntimeError(f"detector not ready: {statuses['coco']}")
        for s in scenarios:
            began = time.monotonic()
            stats = await play(s, s.truth(cache), s.video(cache), runner, stride)
            lines = stats.lines()
            say(f"{lines[0]} ({time.monotonic() - began:.0f} s)")
            for line in lines[1:]:
                say(line)
            out.append(stats)
    return out


def lift_cost(cache: Path, scenarios: Sequence[Scenario], count: int = 200) -> tuple[float, float]:
    """Median ms of the detector's low-light step on model-sized frames: night, day."""
    settings = ModelDetectorConfig(type="model").low_light
    medians = []
    for night in (True, False):
        chosen = [s for s in scenarios if s.night is night][:1]
        times = []
        for s in chosen:
            for index, image in enumerate(frames(s.video(cache))):
                if index >= count:
                    break
                small = np.asarray(cv2.resize(image, (300, 300)), dtype=np.uint8)
                started = time.perf_counter()
                lift(small, settings)
                times.append((time.perf_counter() - started) * 1000)
        medians.append(statistics.median(times) if times else 0.0)
    return medians[0], medians[1]


def pooled(results: Sequence[ScenarioStats]) -> tuple[float, float]:
    """Recall over every required truth box, and fragmented truth boxes per frame."""
    boxes = found = fragmented = count = 0
    for r in results:
        t = r.total()
        boxes, found, fragmented, count = (
            boxes + t.boxes,
            found + t.found,
            fragmented + t.fragmented,
            count + r.frames,
        )
    return (found / boxes if boxes else 1.0), (fragmented / count if count else 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.detection_recall")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="composed scenes")
    parser.add_argument("--model-cache", type=Path, default=DEFAULT_MODEL_CACHE)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each scene")
    parser.add_argument("--only", default="", help="scenarios whose name contains this")
    parser.add_argument(
        "--stride", type=int, default=1, help="look at every n-th frame of the detection rate"
    )
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    results = asyncio.run(
        measure(args.cache_dir, args.model_cache, args.seconds, say, args.only, args.stride)
    )
    night_ms, day_ms = lift_cost(args.cache_dir, [r.scenario for r in results])
    print(f"low-light step per 300x300 frame: night {night_ms:.2f} ms, day {day_ms:.2f} ms")
    day, _ = pooled([r for r in results if not r.scenario.night])
    night, _ = pooled([r for r in results if r.scenario.night])
    _, fragments = pooled(results)
    for night_part in (False, True):
        part = [r for r in results if r.scenario.night is night_part]
        classes: dict[str, ClassStats] = defaultdict(ClassStats)
        for r in part:
            for label, c in r.classes.items():
                k = classes[label]
                k.boxes, k.found, k.found_any, k.found_iou, k.fragmented = (
                    k.boxes + c.boxes,
                    k.found + c.found,
                    k.found_any + c.found_any,
                    k.found_iou + c.found_iou,
                    k.fragmented + c.fragmented,
                )
        frames_n = sum(r.frames for r in part)
        false = sum(r.false for r in part)
        per_class = " ".join(
            f"{label}={_ratio(c.found, c.boxes)}(iou {_ratio(c.found_iou, c.boxes)})"
            for label, c in sorted(classes.items())
        )
        print(
            f"{'night' if night_part else 'day'}: {per_class} false/frame="
            f"{false / max(frames_n, 1):.3f} over {frames_n} frames"
        )
    print(
        f"BENCH detection_recall day={day:.3f} night={night:.3f} "
        f"fragments_per_frame={fragments:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
