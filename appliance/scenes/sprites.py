"""Cut-out animals and people: where each comes from and how to load it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from appliance.scenes.errors import AssetError
from appliance.scenes.imaging import Image

ASSETS = Path(__file__).resolve().parent / "assets"

Box = tuple[int, int, int, int]
Facing = Literal["left", "right", "camera"]


@dataclass(frozen=True)
class SpriteSpec:
    """One cut-out: the GrabCut set-up on its source photo and its size in the world."""

    name: str
    label: str  # COCO class name
    photo: str  # file in assets/photos
    rect: Box  # GrabCut rectangle in photo pixels: x1, y1, x2, y2
    height_m: float  # height of the cut-out in the world
    facing: Facing
    background: tuple[Box, ...] = ()  # sure-background hints inside rect
    foreground: tuple[Box, ...] = ()  # sure-foreground hints
    drop_green: bool = False  # grass between the legs is removed by colour


SPRITES: dict[str, SpriteSpec] = {
    spec.name: spec
    for spec in (
        SpriteSpec(
            name="cow_holstein",
            label="cow",
            photo="cow.jpg",
            rect=(225, 285, 935, 705),
            height_m=1.5,
            facing="left",
            drop_green=True,
        ),
        SpriteSpec(
            name="horse_black",
            label="horse",
            photo="horse.jpg",
            rect=(578, 222, 910, 568),
            height_m=1.7,
            facing="left",
        ),
        SpriteSpec(
            name="sheep",
            label="sheep",
            photo="sheep.jpg",
            rect=(228, 78, 732, 675),
            height_m=0.95,
            facing="camera",
            drop_green=True,
        ),
        SpriteSpec(
            name="dog_shepherd",
            label="dog",
            photo="dog.jpg",
            rect=(30, 20, 915, 730),
            height_m=0.75,
            facing="right",
        ),
        SpriteSpec(
            name="person_red",
            label="person",
            photo="person.jpg",
            rect=(270, 195, 432, 668),
            height_m=1.78,
            facing="camera",
            background=(
                (392, 400, 520, 683),
                (408, 350, 520, 400),
                (270, 195, 300, 262),
                (262, 600, 306, 683),
            ),
            foreground=((314, 530, 328, 640), (357, 530, 373, 640), (318, 208, 358, 228)),
        ),
    )
}

# Variants made by recolouring a cut-out: name -> source cut-out.
RECOLOURED: dict[str, str] = {"cow_red": "cow_holstein"}


@dataclass(frozen=True)
class Sprite:
    """A loaded cut-out: BGR pixels and alpha, cropped to the animal."""

    name: str
    label: str
    height_m: float
    facing: Facing
    bgr: Image
    alpha: Image  # uint8, 255 = opaque


def sprite_names() -> list[str]:
    return [*SPRITES, *RECOLOURED]


def sprite_path(name: str) -> Path:
    return ASSETS / "cutouts" / f"{name}.png"


@cache
def load_sprite(name: str) -> Sprite:
    """Load a committed cut-out PNG (BGRA)."""
    base = SPRITES.get(name) or SPRITES.get(RECOLOURED.get(name, ""))
    if base is None:
        raise AssetError(f"unknown sprite {name!r}; known: {', '.join(sprite_names())}")
    path = sprite_path(name)
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] != 4:
        raise AssetError(f"{path}: missing or not a BGRA PNG")
    return Sprite(
        name=name,
        label=base.label,
        height_m=base.height_m,
        facing=base.facing,
        bgr=np.ascontiguousarray(pixels[:, :, :3]),
        alpha=np.ascontiguousarray(pixels[:, :, 3]),
    )
