"""Decoders on synthetic model outputs: box maths, thresholds and NMS."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from contracts.plugin import SsdAnchorsDecoder, Thresholds, Yolov8Decoder
from contracts.vision import Detection
from plugins.decoders import decode_outputs, nms
from plugins.errors import PluginError
from plugins.preprocess import Placement

LABELS = ["cat", "cow", "dog"]
SIZE = (200, 100)  # model input width, height


def yolo_output(*rows: tuple[float, float, float, float, int, float]) -> np.ndarray:
    """[1, 4 + classes, anchors] from (cx, cy, w, h, class id, score) rows in input pixels."""
    out = np.zeros((1, 4 + len(LABELS), len(rows)), dtype=np.float32)
    for i, (cx, cy, w, h, class_id, score) in enumerate(rows):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + class_id, i] = score
    return out


def decode_yolo(
    output: np.ndarray, placement: Placement | None = None, **thresholds: Any
) -> list[Detection]:
    return decode_outputs(
        Yolov8Decoder(),
        {"output0": output},
        labels=LABELS,
        thresholds=Thresholds(**{"score": 0.25, "nms_iou": 0.45, **thresholds}),
        placement=placement or Placement(),
        input_size=SIZE,
    )


def boxes(detections: list[Detection]) -> list[tuple[str, float, float, float, float, float]]:
    return [
        (d.label, d.score, round(d.x1, 4), round(d.y1, 4), round(d.x2, 4), round(d.y2, 4))
        for d in detections
    ]


def test_yolov8_box_is_centre_size_in_input_pixels() -> None:
    found = decode_yolo(yolo_output((100, 50, 40, 20, 1, 0.9)))
    assert boxes(found) == [("cow", 0.9, 0.4, 0.4, 0.6, 0.6)]
    assert found[0].class_id == 1


def test_yolov8_picks_the_best_class_of_each_anchor() -> None:
    out = yolo_output((100, 50, 40, 20, 1, 0.6))
    out[0, 4 + 2, 0] = 0.8  # the same anchor scores dog higher
    assert [d.label for d in decode_yolo(out)] == ["dog"]


def test_yolov8_drops_scores_below_the_threshold() -> None:
    out = yolo_output((50, 50, 20, 20, 0, 0.3), (150, 50, 20, 20, 1, 0.2))
    assert [d.label for d in decode_yolo(out, score=0.25)] == ["cat"]
    assert [d.label for d in decode_yolo(out, score=0.35)] == []


def test_yolov8_nms_keeps_the_best_of_overlapping_boxes_of_one_class() -> None:
    out = yolo_output((100, 50, 40, 40, 1, 0.7), (102, 51, 40, 40, 1, 0.9))
    assert boxes(decode_yolo(out)) == [("cow", 0.9, 0.41, 0.31, 0.61, 0.71)]


def test_yolov8_nms_is_class_aware() -> None:
    out = yolo_output((100, 50, 40, 40, 1, 0.7), (102, 51, 40, 40, 2, 0.9))
    assert [d.label for d in decode_yolo(out)] == ["dog", "cow"]


@pytest.mark.parametrize(("nms_iou", "kept"), [(0.45, 1), (0.55, 2)])
def test_yolov8_nms_suppresses_only_above_the_iou_threshold(nms_iou: float, kept: int) -> None:
    # Two 40x40 boxes `shift` px apart along x: IoU = (40 - shift) / (40 + shift) = 0.5
    shift = 40 / 3
    out = yolo_output((100, 50, 40, 40, 1, 0.9), (100 + shift, 50, 40, 40, 1, 0.8))
    assert len(decode_yolo(out, nms_iou=nms_iou)) == kept


def test_yolov8_keeps_at_most_max_detections_best_first() -> None:
    rows = [(10.0 + 20 * i, 50.0, 10.0, 10.0, 0, 0.3 + 0.05 * i) for i in range(8)]
    found = decode_yolo(yolo_output(*rows), max_detections=3)
    assert [d.score for d in found] == [0.65, 0.6, 0.55]


def test_yolov8_boxes_map_back_through_the_letterbox_placement() -> None:
    # A frame letterboxed into the top-bottom middle half of the input (scale_y 0.5, offset 0.25).
    placement = Placement(scale_x=1.0, scale_y=0.5, offset_x=0.0, offset_y=0.25)
    found = decode_yolo(yolo_output((100, 50, 40, 20, 1, 0.9)), placement)
    assert boxes(found) == [("cow", 0.9, 0.4, 0.3, 0.6, 0.7)]


def test_yolov8_boxes_are_clipped_to_the_frame() -> None:
    found = decode_yolo(yolo_output((5, 95, 40, 40, 0, 0.9)))
    assert boxes(found) == [("cat", 0.9, 0.0, 0.75, 0.125, 1.0)]


@pytest.mark.parametrize(
    "shape", [(1, 4, 10), (7, 10), (2, 7, 10)], ids=["no-classes", "2d", "batch-2"]
)
def test_yolov8_refuses_an_output_of_the_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(PluginError, match="yolov8 output must be"):
        decode_yolo(np.zeros(shape, dtype=np.float32))


# --- ssd-anchors ------------------------------------------------------------------------------

SSD = SsdAnchorsDecoder(box_encodings="enc", scores="scores", anchors="anchors")
SSD_LABELS = ["", "cow", "dog"]  # column 0 is background


def ssd_outputs(
    anchors: list[tuple[float, float, float, float]],
    encodings: list[tuple[float, float, float, float]],
    scores: list[tuple[float, float, float]],
    *,
    batched_anchors: bool = False,
) -> dict[str, np.ndarray]:
    anchor_array = np.array(anchors, dtype=np.float32)
    return {
        "enc": np.array([encodings], dtype=np.float32),
        "scores": np.array([scores], dtype=np.float32),
        "anchors": anchor_array[None] if batched_anchors else anchor_array,
    }


def decode_ssd(outputs: dict[str, np.ndarray], **thresholds: Any) -> list[Detection]:
    return decode_outputs(
        SSD,
        outputs,
        labels=SSD_LABELS,
        thresholds=Thresholds(**{"score": 0.4, "nms_iou": 0.6, **thresholds}),
        placement=Placement(),
        input_size=(300, 300),
    )


@pytest.mark.parametrize("batched_anchors", [False, True], ids=["anchors-2d", "anchors-3d"])
def test_ssd_zero_encoding_gives_the_anchor_box(batched_anchors: bool) -> None:
    # anchor ymin, xmin, ymax, xmax -> detection x1, y1, x2, y2
    outputs = ssd_outputs(
        [(0.1, 0.2, 0.5, 0.6)], [(0, 0, 0, 0)], [(0.1, 0.9, 0.0)], batched_anchors=batched_anchors
    )
    assert boxes(decode_ssd(outputs)) == [("cow", 0.9, 0.2, 0.1, 0.6, 0.5)]


def test_ssd_encodings_shift_and_scale_the_anchor_as_the_tf_box_coder() -> None:
    # ty=10*0.1: centre y moves by 0.1 * height; th=5*ln(2): height doubles; tx, tw idem.
    enc = (1.0, -2.0, 5 * math.log(2), 5 * math.log(0.5))
    outputs = ssd_outputs([(0.4, 0.4, 0.6, 0.6)], [enc], [(0.0, 0.8, 0.0)])
    # centre (0.5, 0.5), size 0.2 -> cy 0.52, cx 0.46, h 0.4, w 0.1
    assert boxes(decode_ssd(outputs)) == [("cow", 0.8, 0.41, 0.32, 0.51, 0.72)]


def test_ssd_background_column_is_never_reported() -> None:
    outputs = ssd_outputs([(0.1, 0.1, 0.3, 0.3)], [(0, 0, 0, 0)], [(0.99, 0.1, 0.5)])
    assert [(d.label, d.class_id) for d in decode_ssd(outputs)] == [("dog", 2)]


def test_ssd_one_anchor_can_report_several_classes() -> None:
    outputs = ssd_outputs([(0.1, 0.1, 0.3, 0.3)], [(0, 0, 0, 0)], [(0.0, 0.7, 0.5)])
    assert [d.label for d in decode_ssd(outputs)] == ["cow", "dog"]


def test_ssd_nms_per_class_at_the_manifest_iou() -> None:
    anchors = [(0.1, 0.1, 0.5, 0.5), (0.12, 0.1, 0.52, 0.5), (0.12, 0.1, 0.52, 0.5)]
    scores = [(0.0, 0.9, 0.0), (0.0, 0.8, 0.0), (0.0, 0.0, 0.7)]
    outputs = ssd_outputs(anchors, [(0, 0, 0, 0)] * 3, scores)
    assert [d.score for d in decode_ssd(outputs)] == [0.9, 0.7]  # the 2nd cow is suppressed
    assert [d.score for d in decode_ssd(outputs, nms_iou=0.95)] == [0.9, 0.8, 0.7]


def test_ssd_clips_boxes_to_the_image() -> None:
    outputs = ssd_outputs([(-0.2, 0.8, 0.4, 1.3)], [(0, 0, 0, 0)], [(0.0, 0.9, 0.0)])
    assert boxes(decode_ssd(outputs)) == [("cow", 0.9, 0.8, 0.0, 1.0, 0.4)]


def test_ssd_refuses_outputs_that_disagree_on_the_anchor_count() -> None:
    outputs = ssd_outputs([(0.1, 0.1, 0.3, 0.3)] * 2, [(0, 0, 0, 0)] * 2, [(0.0, 0.9, 0.0)] * 2)
    outputs["anchors"] = outputs["anchors"][:1]
    with pytest.raises(PluginError, match="1 anchors"):
        decode_ssd(outputs)


def test_ssd_names_a_missing_output() -> None:
    outputs = ssd_outputs([(0.1, 0.1, 0.3, 0.3)], [(0, 0, 0, 0)], [(0.0, 0.9, 0.0)])
    del outputs["anchors"]
    with pytest.raises(PluginError, match="no output 'anchors'"):
        decode_ssd(outputs)


# --- nms ----------------------------------------------------------------------------------------


def test_nms_returns_kept_indices_best_first() -> None:
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=np.float32)
    assert nms(b, np.array([0.5, 0.9, 0.7]), 0.5).tolist() == [1, 2]


def test_nms_with_no_boxes_keeps_nothing() -> None:
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
