"""Low-light lift for dark frames, applied to the model-sized image before inference.

A camera at dusk or at night without enough gain gives dark, flat, noisy frames on which a
detector trained on daylight photos misses most animals. When the mean luma of the image is
below `dark_below`, contrast-limited adaptive histogram equalisation (CLAHE) lifts the luma
channel tile by tile; chroma is kept. Optionally the luma range is first stretched to full
scale (percentiles, capped gain), as a camera's auto-gain would. The bundle detector by
default runs the model on the frame as it is and on its lifted copy and merges the boxes: the
lift finds most animals the plain frame hides but loses some people the plain frame shows.
Measurements: docs/adr/0012-vision-detection-quality.md. A 300x300 lift costs about 1 ms.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

Image = NDArray[np.uint8]


class LowLightSettings(BaseModel):
    """When a frame counts as dark and how it is lifted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Lift dark frames before inference.")
    dark_below: float = Field(
        default=60.0, ge=0.0, le=255.0, description="Lift frames whose mean luma (0-255) is below."
    )
    passes: Literal["both", "lifted"] = Field(
        default="both",
        description="Dark frames: `both` runs the model on the frame as it is and lifted and "
        "keeps the better box of each pair (twice the inference on dark frames only); "
        "`lifted` runs it on the lifted frame only.",
    )
    clahe_clip: float = Field(default=2.0, ge=0.0, description="CLAHE clip limit; 0: no CLAHE.")
    clahe_grid: int = Field(default=4, ge=1, le=64, description="CLAHE tiles per side.")
    stretch: bool = Field(
        default=False, description="Stretch the luma range to full scale before CLAHE."
    )
    low_percentile: float = Field(
        default=1.0, ge=0.0, lt=50.0, description="Stretch: luma percentile mapped to black."
    )
    high_percentile: float = Field(
        default=99.0, gt=50.0, le=100.0, description="Stretch: luma percentile mapped to white."
    )
    max_gain: float = Field(
        default=6.0, ge=1.0, description="Stretch: largest gain (keeps a black frame black)."
    )


def luma(image: Image) -> Image:
    """The luma plane (0-255) of a BGR image."""
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def is_dark(image: Image, settings: LowLightSettings) -> bool:
    return settings.enabled and float(luma(image).mean()) < settings.dark_below


def lift(image: Image, settings: LowLightSettings) -> Image:
    """`image` (BGR uint8) lifted if it is dark; returned unchanged (same object) otherwise."""
    if image.size == 0 or not is_dark(image, settings):
        return image
    out = image
    if settings.stretch:
        low, high = np.percentile(luma(image), [settings.low_percentile, settings.high_percentile])
        gain = min(255.0 / max(float(high - low), 1.0), settings.max_gain)
        table = np.clip((np.arange(256, dtype=np.float32) - float(low)) * gain, 0, 255)
        out = np.asarray(cv2.LUT(image, table.astype(np.uint8)), dtype=np.uint8)
    if settings.clahe_clip <= 0.0:
        return out
    ycc = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb)
    grid = (settings.clahe_grid, settings.clahe_grid)
    clahe = cv2.createCLAHE(clipLimit=settings.clahe_clip, tileGridSize=grid)
    ycc[..., 0] = clahe.apply(np.ascontiguousarray(ycc[..., 0]))
    return np.asarray(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR), dtype=np.uint8)
