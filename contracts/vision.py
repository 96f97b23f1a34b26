"""Detections: what a detector plugin returns for one frame (also sent runner -> appliance)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from contracts.base import ContractModel

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Detection(ContractModel):
    """One object in one frame; box corners normalised to the frame (0..1, x right, y down)."""

    label: str = Field(min_length=1, max_length=64, description="Class name, e.g. `cow`.")
    class_id: int = Field(ge=0, description="Class index in the plugin's label list.")
    score: Unit
    x1: Unit
    y1: Unit
    x2: Unit
    y2: Unit

    @model_validator(mode="after")
    def _corners_ordered(self) -> Detection:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError("box corners must satisfy x1 <= x2 and y1 <= y2")
        return self

    @property
    def area(self) -> float:
        return (self.x2 - self.x1) * (self.y2 - self.y1)
