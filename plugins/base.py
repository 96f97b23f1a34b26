"""What every detector plugin provides; the runner owns processes, threads and memory.

A plugin has a `key`, a typed config model whose `type` is `Literal[key]`, and synchronous
`load()` / `infer()`. `infer` takes one BGR uint8 frame (H x W x 3) and returns detections.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from contracts.vision import Detection

Frame = NDArray[np.uint8]


class PluginConfig(BaseModel):
    """Base of every plugin's config; subclasses declare `type: Literal["<key>"]`."""

    model_config = ConfigDict(extra="forbid")
    type: str


@dataclass(frozen=True)
class FrameFit:
    """A plugin's first step on a frame: resize it for a `width` x `height` model input,
    stretched or letterboxed (aspect kept). The runner may do that resize before the frame
    crosses shared memory: `infer` then gives the same detections on a smaller copy."""

    width: int
    height: int
    resize: Literal["stretch", "letterbox"]

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The size (width, height) a `width` x `height` frame is resized to."""
        if self.resize == "stretch":
            return self.width, self.height
        ratio = min(self.width / width, self.height / height)
        return round(width * ratio), round(height * ratio)


class Detector(ABC):
    key: ClassVar[str]
    config_model: ClassVar[type[PluginConfig]]

    def __init__(self, config: PluginConfig) -> None:
        self.config = config

    @abstractmethod
    def load(self) -> None:
        """Load and verify the model; raise plugins.errors.PluginError on failure."""

    @abstractmethod
    def infer(self, frame: Frame) -> list[Detection]:
        """Detect objects in one BGR frame."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release runtime resources."""

    def frame_fit(self) -> FrameFit | None:
        """How `infer` resizes frames first, when the runner may do it ahead (after load)."""
        return None

    @classmethod
    def parse_config(cls, raw: dict[str, Any]) -> PluginConfig:
        return cls.config_model.model_validate(raw)
