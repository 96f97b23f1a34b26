"""The shipped detector on the composed scenes: it finds the scripted animals where the
ground truth says they are."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from appliance.scenes.compose import Settings, compose
from contracts.vision import Detection
from plugins.base import Detector

SAMPLED_FRAMES = 12


def iou(d: Detection, box: tuple[float, float, float, float]) -> float:
    x1, y1, x2, y2 = max(d.x1, box[0]), max(d.y1, box[1]), min(d.x2, box[2]), min(d.y2, box[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = d.area + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return inter / union if union else 0.0


# Measured share of sampled frames (12, object fully in view) with a right-label box at
# IoU >= 0.5: cows, horse 12/12; person 9/12 by day and night; the small dog cut-out 1-2/12;
# cows in the night variant 0/12 (see docs/models.md: SSD-MobileNet fails on dark, blue,
# low-contrast frames; an IR camera or a night model is needed). The bounds guard those.
@pytest.mark.parametrize(
    ("scene", "night", "label", "share"),
    [
        ("herd_grazing", False, "cow", 0.9),
        ("herd_grazing", False, "horse", 0.9),
        ("escape", False, "cow", 0.9),
        ("intruder", False, "person", 0.6),
        ("intruder", True, "person", 0.6),
        ("predator", False, "dog", 0.05),
    ],
)
def test_scripted_class_is_detected_in_its_truth_box(
    shipped_detector: Detector, tmp_path: Path, scene: str, night: bool, label: str, share: float
) -> None:
    result = compose(Settings(scene=scene, seconds=12, night=night), tmp_path)
    truth = result.truth
    video = cv2.VideoCapture(str(result.video))
    wanted = [
        (f.frame, o)
        for f in truth.frames
        for o in f.objects
        if o.label == label and o.visibility >= 0.9
    ]
    samples = wanted[:: max(1, len(wanted) // SAMPLED_FRAMES)][:SAMPLED_FRAMES]
    hits = 0
    for frame_no, obj in samples:
        video.set(cv2.CAP_PROP_POS_FRAMES, frame_no)
        ok, image = video.read()
        assert ok
        box = (
            obj.bbox[0] / truth.width,
            obj.bbox[1] / truth.height,
            obj.bbox[2] / truth.width,
            obj.bbox[3] / truth.height,
        )
        frame = np.asarray(image, dtype=np.uint8)
        found = [d for d in shipped_detector.infer(frame) if d.label == label]
        hits += any(iou(d, box) >= 0.5 for d in found)
    video.release()

    assert len(samples) >= 6
    assert hits / len(samples) >= share
