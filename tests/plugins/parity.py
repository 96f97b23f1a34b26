"""Comparing two detectors' outputs: pair detections up and list what disagrees."""

from __future__ import annotations

from contracts.vision import Detection

MIN_IOU = 0.9
MAX_SCORE_DIFF = 0.02


def iou(a: Detection, b: Detection) -> float:
    w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = w * h
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def paired(a: list[Detection], b: list[Detection]) -> list[tuple[Detection, Detection | None]]:
    """Each detection of `a` (best first) with the unused same-label one of `b` it overlaps most."""
    left = list(b)
    pairs: list[tuple[Detection, Detection | None]] = []
    for d in sorted(a, key=lambda d: -d.score):
        same = [o for o in left if o.label == d.label]
        best = max(same, key=lambda o: iou(d, o), default=None)
        if best is not None:
            left.remove(best)
        pairs.append((d, best))
    return pairs


def disagreements(
    a: list[Detection],
    b: list[Detection],
    *,
    min_iou: float = MIN_IOU,
    max_score_diff: float = MAX_SCORE_DIFF,
) -> list[str]:
    """Everything that breaks parity; empty when every detection has a close twin."""
    problems = [] if len(a) == len(b) else [f"{len(a)} detections vs {len(b)}"]
    for d, twin in paired(a, b):
        if twin is None:
            problems.append(f"{d.label} {d.score:.3f} has no twin")
        elif iou(d, twin) < min_iou:
            problems.append(f"{d.label} {d.score:.3f}: IoU {iou(d, twin):.3f} < {min_iou}")
        elif abs(d.score - twin.score) > max_score_diff:
            problems.append(f"{d.label}: score {d.score:.4f} vs {twin.score:.4f}")
    return problems
