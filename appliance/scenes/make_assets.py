"""Rebuild the committed cut-outs and background from the photos in assets/photos.

Run `python -m appliance.scenes.make_assets` after changing the tables in `sprites.py` or
here; the output is deterministic.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from appliance.scenes.errors import AssetError
from appliance.scenes.imaging import Image, resize, u8
from appliance.scenes.sprites import ASSETS, RECOLOURED, SPRITES, Box, SpriteSpec, sprite_path

log = logging.getLogger(__name__)

MAX_SPRITE_HEIGHT = 300
GRABCUT_ITERATIONS = 8
# Background: the top 16:9 of cow.jpg with the three cows replaced by grass from the same rows.
BACKGROUND_PHOTO = "cow.jpg"
BACKGROUND_SIZE = (1024, 576)
BACKGROUND_FILL: tuple[tuple[Box, int], ...] = (  # box, rows a grass source may shift by
    ((218, 278, 946, 576), 24),  # the Holstein in front
    ((254, 170, 440, 295), 0),  # grazing cow behind the wire, left (keep the wire rows)
    ((792, 176, 924, 292), 0),  # grazing cow behind the wire, right
)
BACKGROUND_PATH = ASSETS / "background.jpg"

Weights = npt.NDArray[np.float32]


def read_photo(name: str) -> Image:
    path = ASSETS / "photos" / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AssetError(f"{path}: missing or unreadable")
    return u8(image)


def cut_out(spec: SpriteSpec) -> tuple[Image, Image]:
    """GrabCut the subject of a photo; return its BGR crop and a soft alpha."""
    photo = read_photo(spec.photo)
    mask: Image = np.zeros((photo.shape[0], photo.shape[1]), np.uint8)
    x1, y1, x2, y2 = spec.rect
    mask[y1:y2, x1:x2] = cv2.GC_PR_FGD
    for a, b, c, d in spec.background:
        mask[b:d, a:c] = cv2.GC_BGD
    for a, b, c, d in spec.foreground:
        mask[b:d, a:c] = cv2.GC_FGD
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(
        photo, mask, spec.rect, bgd_model, fgd_model, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK
    )
    solid = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    if spec.drop_green:
        hsv = cv2.cvtColor(photo, cv2.COLOR_BGR2HSV)
        hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        grass = (hue >= 28) & (hue <= 60) & (sat >= 60) & (val >= 70)
        solid[grass] = 0
        solid = u8(cv2.morphologyEx(solid, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)))
    solid = u8(cv2.morphologyEx(solid, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)))
    solid = _fill_holes(_large_parts(solid))
    ys, xs = np.nonzero(solid)
    if len(xs) == 0:
        raise AssetError(f"{spec.name}: GrabCut found nothing in {spec.rect}")
    bx1, by1, bx2, by2 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    # Soft edge: shrink by a pixel, then blur, so no background fringe shows.
    alpha = u8(cv2.GaussianBlur(cv2.erode(solid, np.ones((3, 3), np.uint8)), (0, 0), 1.0))
    return photo[by1:by2, bx1:bx2].copy(), alpha[by1:by2, bx1:bx2].copy()


def _large_parts(mask: Image) -> Image:
    """Keep connected parts of at least 3% of the largest (legs may come apart)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.nonzero(areas >= 0.03 * areas.max())[0]
    out: Image = np.where(np.isin(labels, keep), 255, 0).astype(np.uint8)
    return out


def _fill_holes(mask: Image) -> Image:
    """Fill background pockets that do not reach the image border."""
    outside = np.pad(cv2.bitwise_not(mask), 1, constant_values=255)
    flood = outside.copy()
    cv2.floodFill(flood, None, (0, 0), 0)
    holes = flood[1:-1, 1:-1]
    return u8(cv2.bitwise_or(mask, holes))


def recolour_red(bgr: Image) -> Image:
    """Turn black patches red-brown (a red-and-white Holstein)."""
    value = bgr.max(axis=2).astype(np.float32)
    dark = np.clip((120 - value) / 60, 0, 1)[..., None]
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)[..., None]
    brown = grey * np.array([0.45, 0.8, 1.35], np.float32) + np.array([12, 30, 75], np.float32)
    out = bgr.astype(np.float32) * (1 - dark) + brown * dark
    result: Image = np.clip(out, 0, 255).astype(np.uint8)
    return result


def save_sprite(name: str, bgr: Image, alpha: Image) -> Path:
    h, w = alpha.shape
    if h > MAX_SPRITE_HEIGHT:
        w, h = round(w * MAX_SPRITE_HEIGHT / h), MAX_SPRITE_HEIGHT
        bgr, alpha = resize(bgr, w, h), resize(alpha, w, h)
    path = sprite_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.dstack((bgr, alpha)), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path


def build_sprites() -> list[Path]:
    done: dict[str, tuple[Image, Image]] = {}
    paths = []
    for spec in SPRITES.values():
        done[spec.name] = cut_out(spec)
        paths.append(save_sprite(spec.name, *done[spec.name]))
    for name, source in RECOLOURED.items():
        bgr, alpha = done[source]
        paths.append(save_sprite(name, recolour_red(bgr), alpha))
    return paths


def build_background(seed: int = 0) -> Path:
    """Replace each fill box with vertical strips of grass taken from the same rows."""
    width, height = BACKGROUND_SIZE
    photo = read_photo(BACKGROUND_PHOTO)[:height, :width]
    rng = np.random.default_rng(seed)
    out = photo.astype(np.float32)
    for box, jitter in BACKGROUND_FILL:
        out = _fill(out, photo, box, rng, jitter=jitter)
    BACKGROUND_PATH.parent.mkdir(parents=True, exist_ok=True)
    image = np.clip(out, 0, 255).astype(np.uint8)
    cv2.imwrite(str(BACKGROUND_PATH), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return BACKGROUND_PATH


def _fill(
    out: npt.NDArray[np.float32],
    photo: Image,
    box: Box,
    rng: np.random.Generator,
    tile: int = 48,
    seam: int = 16,
    jitter: int = 0,
) -> npt.NDArray[np.float32]:
    height, width = photo.shape[:2]
    x1, y1, x2, y2 = box
    ey1, ey2 = max(y1 - seam, 0), min(y2 + seam, height)
    ex1, ex2 = max(x1 - seam, 0), min(x2 + seam, width)
    rows = slice(ey1, ey2)
    # Weighted average of the original (outside the box) and tiles (inside).
    # A box edge on the image edge needs no seam there.
    far = 4 * seam
    hx1, hy1 = (x1 - far if x1 == 0 else x1), (y1 - far if y1 == 0 else y1)
    hx2, hy2 = (x2 + far if x2 == width else x2), (y2 + far if y2 == height else y2)
    inside = _ramp(ex1, ex2, hx1, hx2, seam)[None, :] * _ramp(ey1, ey2, hy1, hy2, seam)[:, None]
    acc = out[rows, ex1:ex2] * (1 - inside)[..., None]
    total = 1 - inside
    sources = [
        sx
        for sx in range(0, width - tile)
        if not any(
            sx < b[2] + seam
            and sx + tile > b[0] - seam
            and ey1 - jitter < b[3]
            and ey2 + jitter > b[1]
            for b, _ in BACKGROUND_FILL
        )
    ]
    if not sources:
        raise AssetError(f"no clean grass beside fill box {box}")
    x = ex1
    while x < ex2:
        sx = int(rng.choice(sources))
        # Rows shifted a little, so the same clumps do not repeat along a line.
        dy = int(np.clip(rng.integers(-jitter, jitter + 1), -ey1, height - ey2))
        patch = photo[ey1 + dy : ey2 + dy, sx : sx + tile].astype(np.float32)
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        w = min(tile, ex2 - x)
        weight = (
            _ramp(0, tile, seam // 2, tile - seam // 2, seam)[:w][None, :]
            * inside[:, x - ex1 : x - ex1 + w]
        )
        acc[:, x - ex1 : x - ex1 + w] += patch[:, :w] * weight[..., None]
        total[:, x - ex1 : x - ex1 + w] += weight
        x += tile - seam
    out[rows, ex1:ex2] = acc / np.maximum(total, 1e-6)[..., None]
    return out


def _ramp(start: int, stop: int, low: int, high: int, seam: int) -> Weights:
    """1 inside [low, high), falling linearly to 0 over `seam` pixels outside it."""
    pos = np.arange(start, stop, dtype=np.float32) + 0.5
    rise = np.clip((pos - (low - seam / 2)) / seam, 0, 1)
    fall = np.clip(((high + seam / 2) - pos) / seam, 0, 1)
    out: Weights = np.minimum(rise, fall).astype(np.float32)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.scenes.make_assets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in [*build_sprites(), build_background(args.seed)]:
        log.info("wrote %s (%d bytes)", path.relative_to(ASSETS.parent), path.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
