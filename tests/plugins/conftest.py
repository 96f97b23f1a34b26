"""Fixtures for plugin tests: the shipped detector and the built bundles, one per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from plugins.base import Detector
from plugins.bundle import load_bundle
from plugins.detectors.model import ModelDetector
from plugins.errors import BundleError
from plugins.registry import create

PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "media" / "farm-photos"


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS / f"{name}.jpg"))
    assert image is not None, f"missing farm photo {name}.jpg in {PHOTOS}"
    return image


@pytest.fixture(scope="session")
def model_cache(shipped_model_cache: Path) -> Path:
    return shipped_model_cache


@pytest.fixture(scope="session")
def shipped_detector(model_cache: Path) -> Iterator[Detector]:
    detector = create({"type": "model", "cache_dir": str(model_cache)})
    detector.load()
    yield detector
    detector.close()


# --- bundles built by scripts/build-models (build/models/, not in git) ----------------------

BUILD = Path(__file__).resolve().parents[2] / "build" / "models"
SSD_ONNX = BUILD / "coco-ssd-mobilenet-v2-onnx"
YOLO = BUILD / "yolov8-test"
ALL_PHOTOS = sorted(path.stem for path in PHOTOS.glob("*.jpg"))
PARITY_SCORE = 0.3  # below the bundles' defaults, so parity covers more detections


def require_bundle(root: Path) -> Path:
    """A built bundle that verifies; otherwise fail (never skip) saying how to build it."""
    problem = None
    try:
        load_bundle(root)
    except BundleError as err:
        problem = str(err)
    if problem is not None:  # outside `except`, so the report is just this message
        pytest.fail(
            f"model bundle {root} is missing or stale ({problem}): run scripts/build-models",
            pytrace=False,
        )
    return root


def make_detector(bundle: Path, **config: Any) -> ModelDetector:
    detector = create({"type": "model", "bundle": str(bundle), **config})
    assert isinstance(detector, ModelDetector)
    detector.load()
    return detector


@pytest.fixture(scope="session")
def built_bundles() -> dict[str, Path]:
    return {"ssd-onnx": require_bundle(SSD_ONNX), "yolov8": require_bundle(YOLO)}


@pytest.fixture(scope="session")
def ssd_onnx_ort(built_bundles: dict[str, Path]) -> Iterator[Detector]:
    detector = make_detector(built_bundles["ssd-onnx"], score=PARITY_SCORE)
    yield detector
    detector.close()


@pytest.fixture(scope="session")
def ssd_onnx_ov(built_bundles: dict[str, Path]) -> Iterator[Detector]:
    detector = make_detector(
        built_bundles["ssd-onnx"], runtime="openvino", precision="f32", score=PARITY_SCORE
    )
    yield detector
    detector.close()


@pytest.fixture(scope="session")
def full_graph_f32(model_cache: Path, shipped_detector: Detector) -> Iterator[Detector]:
    """The shipped .pb on OpenVINO at f32; reuses the IR and blob cache `shipped_detector` made."""
    detector = create(
        {"type": "model", "cache_dir": str(model_cache), "precision": "f32", "score": PARITY_SCORE}
    )
    detector.load()
    yield detector
    detector.close()


@pytest.fixture(scope="session")
def yolo_ort(built_bundles: dict[str, Path]) -> Iterator[Detector]:
    detector = make_detector(built_bundles["yolov8"], score=0.1)
    yield detector
    detector.close()


@pytest.fixture(scope="session")
def yolo_ov(built_bundles: dict[str, Path]) -> Iterator[Detector]:
    detector = make_detector(
        built_bundles["yolov8"], runtime="openvino", precision="f32", score=0.1
    )
    yield detector
    detector.close()
