"""What the runner may do for a detector: resize ahead, and drop the model pages it mapped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from plugins.base import Detector
from plugins.registry import create
from tests.plugins.conftest import photo


def resized_ahead(detector: Detector, name: str) -> tuple[object, object]:
    """The detections on the photo, and on the copy the runner would send after `frame_fit`."""
    frame = photo(name)
    fit = detector.frame_fit()
    assert fit is not None
    height, width = frame.shape[:2]
    size = fit.size_for(width, height)
    small = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    return detector.infer(frame), detector.infer(small)


@pytest.mark.parametrize("name", ["cow", "sheep"])
def test_the_shipped_detector_sees_the_same_on_a_frame_stretched_ahead(
    shipped_detector: Detector, name: str
) -> None:
    full, ahead = resized_ahead(shipped_detector, name)

    assert full
    assert ahead == full


@pytest.mark.parametrize("name", ["cow", "sheep"])
def test_a_letterboxing_detector_sees_the_same_on_a_frame_fitted_ahead(
    yolo_ort: Detector, name: str
) -> None:
    full, ahead = resized_ahead(yolo_ort, name)

    assert full
    assert ahead == full


def resident_kb_under(root: Path) -> int:
    """Resident KB of this process's mappings of files under `root`."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):
            parts = line.split(maxsplit=5)
            inside = len(parts) == 6 and parts[5].startswith(str(root.resolve()))
        elif first == "Rss:" and inside:
            total += int(line.split()[1])
    return total


def test_openvino_keeps_little_of_the_model_cache_resident_after_loading(
    shipped_detector: Detector, model_cache: Path
) -> None:
    warm = create({"type": "model", "cache_dir": str(model_cache)})  # from the cached blob
    warm.load()
    warm.infer(photo("cow"))
    shipped_detector.infer(photo("cow"))

    # before trim() the whole mapped blob stayed resident; a few pages are read again
    blob_bytes = sum(path.stat().st_size for path in model_cache.rglob("*.blob"))
    assert blob_bytes > 0
    assert resident_kb_under(model_cache) * 1024 < blob_bytes / 10
    warm.close()
