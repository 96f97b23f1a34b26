"""Fixtures for plugin tests: the shipped detector, loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from plugins.base import Detector
from plugins.registry import create

PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "media" / "farm-photos"


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS / f"{name}.jpg"))
    assert image is not None, f"missing farm photo {name}.jpg in {PHOTOS}"
    return image


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def shipped_detector(model_cache: Path) -> Iterator[Detector]:
    detector = create({"type": "model", "cache_dir": str(model_cache)})
    detector.load()
    yield detector
    detector.close()
