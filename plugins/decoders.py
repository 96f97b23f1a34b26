"""Output decoders: raw model outputs -> detections in frame-normalised coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from contracts.plugin import Decoder, SsdAnchorsDecoder, TfSsdDecoder, Thresholds, Yolov8Decoder
from contracts.vision import Detection
from plugins.errors import PluginError
from plugins.preprocess import Placement
from plugins.runtimes import Tensor


def decode_outputs(
    decoder: Decoder,
    outputs: dict[str, Tensor],
    *,
    labels: list[str],
    thresholds: Thresholds,
    placement: Placement,
    input_size: tuple[int, int],
) -> list[Detection]:
    if isinstance(decoder, TfSsdDecoder):
        raw = _tf_ssd(decoder, outputs, thresholds)
    elif isinstance(decoder, SsdAnchorsDecoder):
        raw = _ssd_anchors(decoder, outputs, thresholds)
    else:
        raw = _yolov8(decoder, outputs, thresholds, input_size)
    detections = []
    for class_id, score, x1, y1, x2, y2 in raw[: thresholds.max_detections]:
        label = labels[class_id] if 0 <= class_id < len(labels) else ""
        if not label.strip():
            continue
        fx1, fy1 = placement.to_frame(x1, y1)
        fx2, fy2 = placement.to_frame(x2, y2)
        detections.append(
            Detection(
                label=label.strip(),
                class_id=class_id,
                score=round(min(max(score, 0.0), 1.0), 4),
                x1=fx1,
                y1=fy1,
                x2=max(fx1, fx2),
                y2=max(fy1, fy2),
            )
        )
    return detections


Raw = list[tuple[int, float, float, float, float, float]]


def _row(
    class_id: Any, score: Any, box: NDArray[np.float64]
) -> tuple[int, float, float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return int(class_id), float(score), x1, y1, x2, y2


def _output(outputs: dict[str, Tensor], name: str | None) -> Tensor:
    if name is None:
        if len(outputs) != 1:
            raise PluginError(f"model has outputs {sorted(outputs)}; name the one to decode")
        return next(iter(outputs.values()))
    if name not in outputs:
        raise PluginError(f"model has no output {name!r}; it has {sorted(outputs)}")
    return outputs[name]


def _tf_ssd(decoder: TfSsdDecoder, outputs: dict[str, Tensor], t: Thresholds) -> Raw:
    boxes = _output(outputs, decoder.boxes)[0]
    scores = _output(outputs, decoder.scores)[0]
    classes = _output(outputs, decoder.classes)[0]
    count = int(_output(outputs, decoder.count).reshape(-1)[0])
    found: Raw = []
    for i in range(min(count, len(scores))):
        if scores[i] >= t.score:
            ymin, xmin, ymax, xmax = (float(v) for v in boxes[i])
            found.append((int(classes[i]), float(scores[i]), xmin, ymin, xmax, ymax))
    return found


def _ssd_anchors(decoder: SsdAnchorsDecoder, outputs: dict[str, Tensor], t: Thresholds) -> Raw:
    encodings = _output(outputs, decoder.box_encodings).reshape(-1, 4).astype(np.float64)
    scores = _output(outputs, decoder.scores).astype(np.float32)
    scores = scores.reshape(-1, scores.shape[-1]).copy()
    anchors = _output(outputs, decoder.anchors).reshape(-1, 4).astype(np.float64)
    if not len(encodings) == len(scores) == len(anchors):
        raise PluginError(
            f"ssd-anchors outputs disagree on the anchor count: {len(encodings)} encodings, "
            f"{len(scores)} score rows, {len(anchors)} anchors"
        )
    boxes = decode_boxes(encodings, anchors, decoder.scale_factors)
    if decoder.background_column is not None:
        scores[:, decoder.background_column] = -1.0
    # Every (anchor, class) pair above the threshold is a candidate, as in TF's multi-class NMS.
    anchor_ids, class_ids = np.nonzero(scores >= t.score)
    boxes, picked = boxes[anchor_ids], scores[anchor_ids, class_ids]
    # TF clips to the image before NMS and drops boxes left with no area.
    boxes = boxes.clip(0.0, 1.0)
    visible = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, picked, class_ids = boxes[visible], picked[visible], class_ids[visible]
    keep = nms(boxes, picked, t.nms_iou, classes=class_ids, limit=t.max_detections)
    return [_row(class_ids[i], picked[i], boxes[i]) for i in keep]


def decode_boxes(
    encodings: NDArray[np.float64],
    anchors: NDArray[np.float64],
    scale_factors: tuple[float, float, float, float],
) -> NDArray[np.float64]:
    """TF box coder: (ty, tx, th, tw) relative to anchors (ymin,xmin,ymax,xmax) -> x1,y1,x2,y2."""
    ty, tx, th, tw = (encodings / np.asarray(scale_factors)).T
    ha, wa = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    cy, cx = ty * ha + anchors[:, 0] + ha / 2, tx * wa + anchors[:, 1] + wa / 2
    h, w = np.exp(th) * ha, np.exp(tw) * wa
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _yolov8(
    decoder: Yolov8Decoder, outputs: dict[str, Tensor], t: Thresholds, size: tuple[int, int]
) -> Raw:
    out = _output(outputs, decoder.output)
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[1] < 5:
        raise PluginError(f"yolov8 output must be [1, 4 + classes, anchors], got {out.shape}")
    rows = out[0].T.astype(np.float64)  # anchors x (4 + classes)
    class_scores = rows[:, 4:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores >= t.score
    rows, class_ids, scores = rows[keep], class_ids[keep], scores[keep]
    width, height = size
    cx, cy, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    boxes /= np.asarray([width, height, width, height], dtype=np.float64)
    picked = nms(boxes, scores, t.nms_iou, classes=class_ids, limit=t.max_detections)
    return [_row(class_ids[i], scores[i], boxes[i]) for i in picked]


def nms(
    boxes: NDArray[np.floating[Any]],
    scores: NDArray[np.floating[Any]],
    iou: float,
    *,
    classes: NDArray[np.integer[Any]] | None = None,
    limit: int | None = None,
) -> NDArray[np.int64]:
    """Greedy non-maximum suppression; indices of the kept boxes, best score first.

    Boxes are x1,y1,x2,y2. A box is dropped when its IoU with a kept box exceeds `iou`;
    with `classes`, only boxes of the same class suppress each other.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    if classes is not None:  # shift each class into its own region so classes never overlap
        span = float(boxes.max() - boxes.min()) + 1.0
        boxes = boxes + (np.asarray(classes, dtype=np.float64) * span)[:, None]
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size and (limit is None or len(keep) < limit):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = (np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest])).clip(0)
        h = (np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest])).clip(0)
        inter = w * h
        union = areas[best] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)
