"""Per-class detection filters: a label allowlist, minimum score, box area and aspect ranges.

A `Profile` is the resolved rule set for one lighting condition (day or night); see
`appliance.vision.profile` for how the night one is chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.vision import Detection

DEFAULT_LABELS = ("person", "bird", "cat", "dog", "horse", "sheep", "cow", "bear")
Rejection = Literal["label", "score", "area", "aspect"]
ProfileName = Literal["day", "night"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassRule(_Section):
    """What a detection of one class must satisfy to be kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_score: float = Field(default=0.5, ge=0.0, le=1.0, description="Lowest score kept.")
    min_area: float = Field(
        default=0.0005, ge=0.0, le=1.0, description="Smallest box area, as a fraction of the frame."
    )
    max_area: float = Field(
        default=0.9, ge=0.0, le=1.0, description="Largest box area, as a fraction of the frame."
    )
    min_aspect: float = Field(
        default=0.2, gt=0.0, description="Smallest width/height of the box in pixels."
    )
    max_aspect: float = Field(
        default=5.0, gt=0.0, description="Largest width/height of the box in pixels."
    )

    @model_validator(mode="after")
    def _ranges_ordered(self) -> ClassRule:
        if self.max_area < self.min_area:
            raise ValueError(f"max_area {self.max_area} is below min_area {self.min_area}")
        if self.max_aspect < self.min_aspect:
            raise ValueError(f"max_aspect {self.max_aspect} is below min_aspect {self.min_aspect}")
        return self

    def patched(self, patch: ClassRulePatch) -> ClassRule:
        """This rule with the fields the patch sets replaced (validated again)."""
        changes = patch.model_dump(exclude_none=True)
        if not changes:
            return self
        try:
            return ClassRule.model_validate(self.model_dump() | changes)
        except ValidationError as err:
            reasons = (e["msg"].removeprefix("Value error, ") for e in err.errors())
            raise ValueError("; ".join(reasons)) from err


class ClassRulePatch(_Section):
    """Changes to a class rule; fields left unset keep the value they override."""

    min_score: float | None = Field(default=None, ge=0.0, le=1.0, description="Lowest score kept.")
    min_area: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Smallest box area, as a fraction of the frame."
    )
    max_area: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Largest box area, as a fraction of the frame."
    )
    min_aspect: float | None = Field(
        default=None, gt=0.0, description="Smallest width/height of the box in pixels."
    )
    max_aspect: float | None = Field(
        default=None, gt=0.0, description="Largest width/height of the box in pixels."
    )


class FilterSettings(_Section):
    """Day-time filters: which labels are kept and the rule each must satisfy."""

    allow: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LABELS),
        description="Labels kept; every other label is dropped.",
    )
    default: ClassRule = Field(
        default_factory=ClassRule, description="Rule for every allowed label without its own."
    )
    classes: dict[str, ClassRulePatch] = Field(
        default_factory=dict, description="Per-label changes to the default rule."
    )
    same_object_iou: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="A box overlapping a better-scored box of another label this much (IoU) is "
        "the same object seen as two classes (a horse also called a dog): it is dropped. "
        "Unset: keep both (the appliance's vision settings set it).",
    )
    same_label_iou: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="A box overlapping a better-scored box of the same label this much (IoU) "
        "is a second box on the same animal: it is dropped (class-aware NMS on top of the "
        "model's own). Unset: keep both.",
    )
    same_label_inside: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="A box lying this much (share of its own area) inside a better-scored box "
        "of the same label is a part of that animal (a head, a front half): it is dropped. "
        "Unset: keep both.",
    )

    @model_validator(mode="after")
    def _class_rules_name_allowed_labels(self) -> FilterSettings:
        check_labels_allowed(self.classes, self.allow, "classes")
        for label, patch in self.classes.items():
            try:
                self.default.patched(patch)
            except ValueError as err:
                raise ValueError(f"classes.{label}: {err}") from err
        return self


def check_labels_allowed(rules: Mapping[str, object], allow: Iterable[str], where: str) -> None:
    unknown = sorted(set(rules) - set(allow))
    if unknown:
        raise ValueError(f"{where}: rules for labels not in allow: {', '.join(unknown)}")


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """Resolved filter rules for one lighting condition."""

    name: ProfileName
    rules: Mapping[str, ClassRule]
    same_object_iou: float | None = None
    merge: Merge | None = None

    @property
    def allow(self) -> frozenset[str]:
        return frozenset(self.rules)

    def rejection(self, detection: Detection, frame_aspect: float) -> Rejection | None:
        """Why the detection is dropped, or None if it is kept.

        `frame_aspect` is the frame's width / height in pixels (box aspect is judged in pixels).
        """
        rule = self.rules.get(detection.label)
        if rule is None:
            return "label"
        if detection.score < rule.min_score:
            return "score"
        width, height = detection.x2 - detection.x1, detection.y2 - detection.y1
        area = width * height
        if area <= 0.0 or area < rule.min_area or area > rule.max_area:
            return "area"
        aspect = width / height * frame_aspect
        if aspect < rule.min_aspect or aspect > rule.max_aspect:
            return "aspect"
        return None

    def apply(self, detections: Iterable[Detection], frame_aspect: float) -> list[Detection]:
        """The detections this profile keeps, in their order."""
        kept = [d for d in detections if self.rejection(d, frame_aspect) is None]
        limit, merge = self.same_object_iou, self.merge
        if limit is None and merge is None:
            return kept
        better = sorted(kept, key=lambda d: -d.score)
        dropped: set[int] = set()
        for i, d in enumerate(better):
            for o in better[:i]:
                if id(o) in dropped:
                    continue
                if o.label != d.label:
                    if limit is not None and _iou(o, d) >= limit:
                        dropped.add(id(d))
                        break
                elif merge is not None and merge.same(o, d):
                    dropped.add(id(d))
                    break
        return [d for d in kept if id(d) not in dropped]


@dataclass(frozen=True, slots=True)
class Merge:
    """When a lower-scored box of the same label is another view of a better box's animal."""

    iou: float | None = None
    inside: float | None = None

    def same(self, better: Detection, worse: Detection) -> bool:
        if self.iou is not None and _iou(better, worse) >= self.iou:
            return True
        if self.inside is None:
            return False
        area = (worse.x2 - worse.x1) * (worse.y2 - worse.y1)
        return area > 0.0 and _intersection(better, worse) / area >= self.inside


def _intersection(a: Detection, b: Detection) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    return ix * iy


def _iou(a: Detection, b: Detection) -> float:
    inter = _intersection(a, b)
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def build_profile(
    name: ProfileName,
    allow: Iterable[str],
    base: Mapping[str, ClassRule],
    default: ClassRulePatch | None = None,
    classes: Mapping[str, ClassRulePatch] | None = None,
    same_object_iou: float | None = None,
    merge: Merge | None = None,
) -> Profile:
    """Rules per allowed label: `base[label]`, then `default`, then `classes[label]` applied."""
    rules: dict[str, ClassRule] = {}
    for label in allow:
        rule = base[label]
        if default is not None:
            rule = rule.patched(default)
        if classes is not None and label in classes:
            rule = rule.patched(classes[label])
        rules[label] = rule
    return Profile(
        name=name, rules=MappingProxyType(rules), same_object_iou=same_object_iou, merge=merge
    )


def day_profile(settings: FilterSettings) -> Profile:
    """The day-time profile of the filter settings."""
    base = dict.fromkeys(settings.allow, settings.default)
    return build_profile(
        "day",
        settings.allow,
        base,
        classes=settings.classes,
        same_object_iou=settings.same_object_iou,
        merge=merge_of(settings),
    )


def merge_of(settings: FilterSettings) -> Merge | None:
    """The same-label merge the settings ask for, or None."""
    if settings.same_label_iou is None and settings.same_label_inside is None:
        return None
    return Merge(iou=settings.same_label_iou, inside=settings.same_label_inside)
