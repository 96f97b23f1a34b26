"""The shipped COCO detector (SSD-MobileNet-v2 on OpenVINO) on real farm photos."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plugins.base import Detector
from plugins.registry import create
from tests.plugins.conftest import photo


@pytest.mark.parametrize(
    ("name", "label", "centre"),
    [
        ("cow", "cow", (0.57, 0.64)),
        ("sheep", "sheep", (0.47, 0.51)),
        ("horse", "horse", (0.72, 0.6)),
        ("dog", "dog", (0.46, 0.49)),
        ("cat", "cat", (0.59, 0.43)),
        ("duck", "bird", (0.46, 0.56)),
    ],
)
def test_detector_finds_the_animal_where_it_stands(
    shipped_detector: Detector, name: str, label: str, centre: tuple[float, float]
) -> None:
    detections = shipped_detector.infer(photo(name))
    best = max((d for d in detections if d.label == label), key=lambda d: d.score)

    assert best.score > 0.8
    assert best.x1 < centre[0] < best.x2
    assert best.y1 < centre[1] < best.y2


def test_only_reported_classes_come_back(shipped_detector: Detector) -> None:
    labels = {
        d.label for name in ("cow", "horse", "chicken") for d in shipped_detector.infer(photo(name))
    }
    assert labels <= {"person", "bird", "cat", "dog", "horse", "sheep", "cow", "bear"}


def test_second_load_uses_the_cache_and_is_faster(
    model_cache: Path, shipped_detector: Detector
) -> None:
    fresh = create({"type": "model", "cache_dir": str(model_cache / "fresh")})
    started = time.monotonic()
    fresh.load()
    first = time.monotonic() - started
    again = create({"type": "model", "cache_dir": str(model_cache / "fresh")})
    started = time.monotonic()
    again.load()
    second = time.monotonic() - started

    assert second < first / 2
    assert (model_cache / "fresh" / "ir").is_dir()
