"""Replay a composed scene's ground truth through tracker, zones and analyzers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from appliance.analyzers.base import Analyzer, Finding, Scene
from appliance.analyzers.registry import AnalyzerSettings, build
from appliance.scenes.compose import Settings, compose
from appliance.scenes.truth import ObjectBox, SceneTruth, read_truth
from appliance.vision.tracker import Tracker, TrackerSettings
from appliance.vision.zones import ZoneMonitor
from appliance.vision.zones import zones_of_scene as zones_of
from contracts.vision import Detection

Edit = Callable[[float, list[ObjectBox]], list[ObjectBox]]
"""Changes what the detector sees at time t: hides, cuts or adds boxes."""


@dataclass(frozen=True)
class Alert:
    t: float
    finding: Finding


def make_scene(name: str, out: Path, seconds: float = 20.0) -> SceneTruth:
    compose(Settings(scene=name, seconds=seconds), out)
    return read_truth(out / f"{name}.json")


def replay(
    truth: SceneTruth,
    configs: list[AnalyzerSettings],
    detect_fps: float = 5.0,
    night: bool = False,
    edit: Edit | None = None,
) -> list[Alert]:
    """Feed the truth boxes (as detections) at `detect_fps`, changed by `edit` (a detector's
    mistakes); collect what analyzers report."""
    zones = zones_of(truth)
    monitor = ZoneMonitor(zones, camera="cam")
    tracker = Tracker(TrackerSettings(min_hits=2))  # as the camera pipeline runs it
    analyzers: list[Analyzer] = build(configs, "cam")
    kinds = {z.name: z.kind for z in zones.zones}
    step = max(1, round(truth.fps / detect_fps))
    clock = datetime(2026, 6, 1, 23 if night else 12, 0)
    alerts: list[Alert] = []
    for frame in truth.frames[::step]:
        detections = [
            Detection(
                label=o.label,
                class_id=0,
                score=0.9,
                x1=o.bbox[0] / truth.width,
                y1=o.bbox[1] / truth.height,
                x2=o.bbox[2] / truth.width,
                y2=o.bbox[3] / truth.height,
            )
            for o in (edit(frame.t, frame.objects) if edit else frame.objects)
            if o.visibility >= 0.3
        ]
        update = tracker.update(detections, frame.t)
        scene = Scene("cam", frame.t, clock, update, monitor.update(update), monitor, kinds)
        for analyzer in analyzers:
            alerts += [Alert(frame.t, f) for f in analyzer.observe(scene)]
    return alerts
