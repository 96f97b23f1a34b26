"""Small builders for vision tests: detections from a centre and size, scripted walks."""

from __future__ import annotations

from contracts.vision import Detection

LABEL_IDS = {"person": 0, "dog": 17, "horse": 18, "sheep": 19, "cow": 20}


def make_detection(
    label: str = "cow",
    cx: float = 0.5,
    cy: float = 0.5,
    w: float = 0.1,
    h: float = 0.08,
    score: float = 0.9,
) -> Detection:
    """A detection centred on (cx, cy), clipped to the frame."""
    return Detection(
        label=label,
        class_id=LABEL_IDS.get(label, 0),
        score=score,
        x1=max(0.0, cx - w / 2),
        y1=max(0.0, cy - h / 2),
        x2=min(1.0, cx + w / 2),
        y2=min(1.0, cy + h / 2),
    )


def make_box(x1: float, y1: float, x2: float, y2: float, label: str = "cow") -> Detection:
    return Detection(
        label=label, class_id=LABEL_IDS.get(label, 0), score=0.9, x1=x1, y1=y1, x2=x2, y2=y2
    )
