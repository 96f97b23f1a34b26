"""Rendered frames show the objects exactly where the truth puts them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydantic import ValidationError

from appliance.scenes import Settings, build_plan, render
from appliance.scenes.backdrop import backdrop
from appliance.scenes.truth import ObjectBox

SHADOW_PAD = 0.12  # shadows reach below a box by up to this share of its height


@pytest.mark.parametrize("scene", ["herd_grazing", "intruder"])
def test_pixels_change_inside_boxes_and_nowhere_else(scene: str) -> None:
    settings = Settings(scene=scene, seconds=4.0)
    plan = build_plan(scene, settings.seed, settings.seconds)
    empty = backdrop(settings.width, settings.height).image.astype(np.int16)
    for image, truth in itertools.islice(render(plan, settings.frame()), 0, 40, 13):
        diff = np.abs(image.astype(np.int16) - empty).max(axis=2)
        covered = np.zeros(diff.shape, bool)
        for obj in truth.objects:
            x1, y1, x2, y2 = obj.bbox
            pad = round((y2 - y1) * SHADOW_PAD)
            covered[max(y1 - 1, 0) : y2 + pad, max(x1 - pad, 0) : x2 + pad] = True
            if obj.visibility > 0.5:
                assert diff[y1:y2, x1:x2].mean() > 20
        assert diff[~covered].mean() < 3


def test_render_yields_one_truth_per_frame_in_order() -> None:
    settings = Settings(scene="predator", seconds=3.0, fps=5.0)
    plan = build_plan("predator", settings.seed, settings.seconds)
    truths = [truth for _, truth in render(plan, settings.frame())]
    assert [truth.frame for truth in truths] == list(range(15))
    assert [truth.t for truth in truths] == [i / 5.0 for i in range(15)]


def test_truth_models_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ObjectBox.model_validate(
            {
                "track_id": 1,
                "label": "cow",
                "bbox": [0, 0, 2, 2],
                "visibility": 1,
                "moving": False,
                "colour": "red",
            }
        )
