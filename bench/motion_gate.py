"""Motion gate cost per 1280x720 frame against `cv2.resize` alone (same run, same frames).

    python -m bench.motion_gate

The gate is what decides whether a looked-at frame goes to inference: shrink to 160 px wide,
grey, blur, absdiff against the previous frame, threshold, count. The full per-frame analysis
(gate plus the health measurements) is printed on the line before.

Last line: `BENCH motion_gate ms_per_frame=<median gate ms> baseline_resize_ms=<median ms of the
same cv2.resize alone> ratio=<gate/baseline>`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from appliance.camera import CameraSettings
from appliance.camera.analysis import FrameAnalyzer
from appliance.camera.motion import MotionGate, shrink

WIDTH, HEIGHT = 1280, 720
FRAMES = 60
ROUNDS = 15


def make_frames(count: int, seed: int = 5) -> list[np.ndarray]:
    """A textured view with sensor noise and a square moving across it."""
    rng = np.random.default_rng(seed)
    view = np.full((HEIGHT, WIDTH, 3), 110, np.uint8)
    for _ in range(150):
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(view, (x, y), (x + int(rng.integers(10, 200)), y + 80), colour, -1)
    frames = []
    for i in range(count):
        noise = rng.normal(0, 3, view.shape).astype(np.int16)
        frame = np.clip(view.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        x = int((WIDTH - 120) * i / count)
        cv2.rectangle(frame, (x, 300), (x + 120, 420), (255, 255, 255), -1)
        frames.append(frame)
    return frames


def median_ms(step: Callable[[np.ndarray], object], frames: list[np.ndarray]) -> float:
    """Median over rounds of the mean time per frame, in ms."""
    for frame in frames[:10]:
        step(frame)
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for frame in frames:
            step(frame)
        rounds.append((time.perf_counter() - start) / len(frames) * 1000)
    return statistics.median(rounds)


def main() -> None:
    settings = CameraSettings(id="bench", url="/dev/null.mp4")
    gate = MotionGate(settings.motion)
    width = settings.motion.width
    frames = make_frames(FRAMES)
    previous = [gate.prepare(frames[-1])]
    looked = moving = 0

    def gate_step(frame: np.ndarray) -> float:
        nonlocal looked, moving
        prepared = gate.prepare(frame)
        fraction = gate.changed_fraction(previous[0], prepared)
        previous[0] = prepared
        looked += 1
        moving += fraction >= settings.motion.min_changed_fraction
        return fraction

    analyzer = FrameAnalyzer(settings)
    clock = [0.0]

    def analyze_step(frame: np.ndarray) -> object:
        clock[0] += 0.2
        return analyzer.analyze(frame, clock[0])

    baseline = median_ms(lambda frame: shrink(frame, width), frames)
    gate_ms = median_ms(gate_step, frames)
    analysis_ms = median_ms(analyze_step, frames)
    print(
        f"motion gate on {WIDTH}x{HEIGHT} -> {width} px: {moving} of {looked} frames moved; "
        f"full analysis (gate + health measurements) {analysis_ms:.3f} ms/frame"
    )
    print(
        f"BENCH motion_gate ms_per_frame={gate_ms:.3f} baseline_resize_ms={baseline:.3f} "
        f"ratio={gate_ms / baseline:.2f}"
    )


if __name__ == "__main__":
    main()
