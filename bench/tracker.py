"""Tracker cost per frame against the cost of its IoU matrix alone (same run, same boxes).

    python -m bench.tracker

Last line: `BENCH tracker update_us=<median per frame, 30 objects>
baseline_us=<median of computing the IoU matrix alone> ratio=<update/baseline>`.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from appliance.vision import Tracker, TrackerSettings, iou_matrix
from appliance.vision.geometry import boxes_of
from contracts.vision import Detection

FRAMES = 400
WARMUP = 50
FPS = 5.0
LABELS = ("cow", "sheep", "person")


def scripted_frames(objects: int, seed: int = 7) -> list[list[Detection]]:
    """Objects wandering over the frame with detector jitter; a few missed detections."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0.1, 0.9, size=(objects, 2))
    vel = rng.normal(0.0, 0.01, size=(objects, 2))
    size = rng.uniform(0.04, 0.1, size=(objects, 2))
    labels = [LABELS[i % len(LABELS)] for i in range(objects)]
    frames: list[list[Detection]] = []
    for _ in range(FRAMES):
        vel += rng.normal(0.0, 0.002, size=vel.shape)
        pos += vel
        out = (pos < 0.06) | (pos > 0.94)
        vel[out] = -vel[out]  # bounce off the frame edges
        pos = np.clip(pos, 0.06, 0.94)
        jitter = rng.normal(0.0, 0.002, size=(objects, 4))
        seen = rng.random(objects) > 0.03
        dets = []
        for i in np.flatnonzero(seen):
            (cx, cy), (w, h) = pos[i], size[i]
            x1, y1, x2, y2 = np.clip(
                [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] + jitter[i], 0.0, 1.0
            )
            dets.append(
                Detection(
                    label=labels[i],
                    class_id=int(i) % len(LABELS),
                    score=0.8,
                    x1=float(min(x1, x2)),
                    y1=float(min(y1, y2)),
                    x2=float(max(x1, x2)),
                    y2=float(max(y1, y2)),
                )
            )
        frames.append(dets)
    return frames


def time_updates(frames: list[list[Detection]]) -> float:
    """Median microseconds of one `Tracker.update`."""
    tracker = Tracker(TrackerSettings())
    samples = []
    for i, dets in enumerate(frames):
        start = time.perf_counter_ns()
        tracker.update(dets, i / FPS)
        if i >= WARMUP:
            samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000.0


def time_iou(frames: list[list[Detection]]) -> float:
    """Median microseconds of the IoU matrix of consecutive frames' boxes."""
    boxes = [boxes_of(dets) for dets in frames]
    samples = []
    for i in range(1, len(boxes)):
        start = time.perf_counter_ns()
        iou_matrix(boxes[i - 1], boxes[i])
        if i >= WARMUP:
            samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000.0


def main() -> None:
    frames50 = scripted_frames(50)
    print(f"tracker update_us at 50 objects: {time_updates(frames50):.1f}")
    frames = scripted_frames(30)
    update_us = time_updates(frames)
    baseline_us = time_iou(frames)
    print(
        f"BENCH tracker update_us={update_us:.1f} baseline_us={baseline_us:.1f} "
        f"ratio={update_us / baseline_us:.1f}"
    )


if __name__ == "__main__":
    main()
