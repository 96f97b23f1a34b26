"""The `yolov8` decoder on a real Ultralytics export (nudenet's 320n.onnx, a test fixture).

Its classes are body parts, so on farm photos it finds animal feet: useful for checking
where boxes land, and for runtime parity on a second, letterboxed NCHW model.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from contracts.vision import Detection
from plugins.base import Frame
from plugins.detectors.model import ModelDetector
from plugins.preprocess import PAD_VALUE, preprocess
from tests.plugins.conftest import ALL_PHOTOS, photo
from tests.plugins.parity import disagreements

# The sheep in sheep.jpg as the shipped SSD sees it (x1, y1, x2, y2).
SHEEP = (0.227, 0.111, 0.710, 0.909)


@pytest.mark.parametrize("name", ALL_PHOTOS)
def test_yolov8_detects_the_same_on_onnxruntime_and_openvino(
    yolo_ort: ModelDetector, yolo_ov: ModelDetector, name: str
) -> None:
    frame = photo(name)
    on_ort, on_ov = yolo_ort.infer(frame), yolo_ov.infer(frame)

    assert disagreements(on_ort, on_ov) == []
    assert disagreements(on_ov, on_ort) == []


def test_yolov8_finds_detections_on_the_farm_photos(yolo_ort: ModelDetector) -> None:
    found = [d for name in ALL_PHOTOS for d in yolo_ort.infer(photo(name))]
    labels = yolo_ort.bundle.labels()

    assert len(found) >= 10
    assert all(labels[d.class_id] == d.label for d in found)
    assert all(d.area > 0 for d in found)
    assert all(d.score >= 0.1 for d in found)


def test_yolov8_finds_the_sheeps_feet_under_the_sheep(yolo_ort: ModelDetector) -> None:
    feet = [d for d in yolo_ort.infer(photo("sheep")) if d.label.startswith("FEET_")]
    x1, y1, x2, y2 = SHEEP

    assert len(feet) >= 3
    for d in feet:
        cx, cy = (d.x1 + d.x2) / 2, (d.y1 + d.y2) / 2
        assert x1 < cx < x2
        assert y1 + 0.6 * (y2 - y1) < cy < y2  # the lower part of the sheep


def wide() -> Frame:
    """1024x512: the lower half of sheep.jpg, feet included."""
    return np.ascontiguousarray(photo("sheep")[230:742, :1024])


def tall() -> Frame:
    return np.ascontiguousarray(cv2.rotate(wide(), cv2.ROTATE_90_CLOCKWISE))


def pad_to_square(frame: Frame) -> Frame:
    """The frame centred on a grey square, as letterboxing would place it."""
    h, w = frame.shape[:2]
    side = max(h, w)
    square = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    left, top = (side - w) // 2, (side - h) // 2
    square[top : top + h, left : left + w] = frame
    return square


def in_square(d: Detection, frame: Frame) -> tuple[float, float, float, float]:
    """A frame-normalised box in the coordinates of `pad_to_square(frame)`."""
    h, w = frame.shape[:2]
    side = max(h, w)
    left, top = (side - w) // 2, (side - h) // 2
    return (
        (left + d.x1 * w) / side,
        (top + d.y1 * h) / side,
        (left + d.x2 * w) / side,
        (top + d.y2 * h) / side,
    )


@pytest.mark.parametrize("make_frame", [wide, tall], ids=["wide", "tall"])
def test_letterboxed_boxes_map_back_to_where_the_object_is_in_the_frame(
    yolo_ort: ModelDetector, make_frame: Callable[[], Frame]
) -> None:
    # The padded square and the bare frame become the same model input, so the same objects
    # are found; only the mapping back differs, and it must land on the same pixels.
    frame = make_frame()
    square = pad_to_square(frame)
    spec = yolo_ort.bundle.manifest.input
    assert np.array_equal(preprocess(frame, spec)[0], preprocess(square, spec)[0])

    in_frame, in_padded = yolo_ort.infer(frame), yolo_ort.infer(square)

    assert len(in_frame) >= 2
    assert [d.label for d in in_frame] == [d.label for d in in_padded]
    expected = np.array([in_square(d, frame) for d in in_frame])
    found = np.array([(d.x1, d.y1, d.x2, d.y2) for d in in_padded])
    assert np.allclose(expected, found, atol=1e-6)
