"""The committed photos, cut-outs and background are small, loadable and attributed."""

from __future__ import annotations

import pytest

from appliance.scenes.sprites import ASSETS, SPRITES, load_sprite, sprite_names

MAX_ASSET_BYTES = 3_000_000


def test_assets_stay_small() -> None:
    total = sum(path.stat().st_size for path in ASSETS.rglob("*") if path.is_file())
    assert total < MAX_ASSET_BYTES


def test_every_photo_is_attributed_with_its_licence() -> None:
    attribution = (ASSETS / "ATTRIBUTION.md").read_text(encoding="utf-8")
    photos = sorted(path.name for path in (ASSETS / "photos").iterdir())
    assert photos == sorted({spec.photo for spec in SPRITES.values()})
    for name in photos:
        line = next(line for line in attribution.splitlines() if line.startswith(f"| {name} "))
        assert "Public domain" in line or "CC0-1.0" in line


@pytest.mark.parametrize("name", sprite_names())
def test_cutouts_load_with_an_alpha_that_holds_the_animal(name: str) -> None:
    sprite = load_sprite(name)
    solid = (sprite.alpha >= 128).mean()
    assert sprite.bgr.shape[:2] == sprite.alpha.shape
    assert 0.3 < solid < 0.95
    assert (sprite.alpha[:, 0] < 128).mean() > 0.5  # cropped to the animal, edges mostly clear
