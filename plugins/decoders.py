"""Output decoders: raw model outputs -> detections in frame-normalised coordinates."""

from __future__ import annotations

import cv2
import numpy as np

from contracts.plugin import Decoder, TfSsdDecoder, Thresholds, Yolov8Decoder
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


def _yolov8(
    decoder: Yolov8Decoder, outputs: dict[str, Tensor], t: Thresholds, size: tuple[int, int]
) -> Raw:
    out = _output(outputs, decoder.output)
    if out.ndim != 3 or out.shape[1] < 5:
        raise PluginError(f"yolov8 output must be [1, 4 + classes, anchors], got {out.shape}")
    rows = out[0].T.astype(np.float32)  # anchors x (4 + classes)
    class_scores = rows[:, 4:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores >= t.score
    rows, class_ids, scores = rows[keep], class_ids[keep], scores[keep]
    if len(rows) == 0:
        return []
    width, height = size
    cx, cy, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    picked = cv2.dnn.NMSBoxesBatched(
        boxes.tolist(), scores.tolist(), class_ids.tolist(), t.score, t.nms_iou
    )
    found: Raw = []
    for i in np.asarray(picked, dtype=np.int64).reshape(-1):
        x, y, bw, bh = boxes[i]
        found.append(
            (
                int(class_ids[i]),
                float(scores[i]),
                float(x / width),
                float(y / height),
                float((x + bw) / width),
                float((y + bh) / height),
            )
        )
    found.sort(key=lambda d: -d[1])
    return found
