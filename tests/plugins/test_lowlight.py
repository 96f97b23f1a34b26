"""Low-light lift: dark frames are stretched and equalised before inference, others untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from appliance.scenes.compose import Settings, compose
from contracts.plugin import InputSpec
from contracts.vision import Detection
from plugins.base import Detector
from plugins.detectors.model import merge_passes
from plugins.lowlight import LowLightSettings, is_dark, lift, luma
from plugins.preprocess import PAD_VALUE, preprocess
from plugins.registry import create
from tests.plugins.conftest import photo

NIGHT_GAIN_BGR = np.array([0.42, 0.30, 0.22], dtype=np.float32)  # as the scene composer's night


def darkened(image: np.ndarray, seed: int = 1) -> np.ndarray:
    """A daylight photo made dim, flat and grainy, like a camera at dusk without enough gain."""
    grey = image.astype(np.float32).mean(axis=2, keepdims=True)
    dim = (0.25 * image + 0.75 * grey) * NIGHT_GAIN_BGR + 6.0
    noise = np.random.default_rng(seed).normal(0.0, 7.0, image.shape)
    return np.asarray(np.clip(dim + noise, 0, 255), dtype=np.uint8)


def contrast(image: np.ndarray) -> float:
    low, high = np.percentile(luma(image), [5, 95])
    return float(high - low)


def test_dark_frame_is_brightened_and_its_contrast_raised() -> None:
    day = photo("cow")
    night = darkened(day)
    settings = LowLightSettings()
    assert is_dark(night, settings)
    lifted = lift(night, settings)
    assert lifted.shape == night.shape
    assert lifted.dtype == np.uint8
    assert luma(lifted).mean() > 1.5 * luma(night).mean()
    assert contrast(lifted) > 1.8 * contrast(night)


def test_bright_frame_is_returned_as_it_is() -> None:
    day = photo("cow")
    settings = LowLightSettings()
    assert not is_dark(day, settings)
    assert lift(day, settings) is day


def test_disabled_lift_leaves_a_dark_frame_alone() -> None:
    night = darkened(photo("cow"))
    assert lift(night, LowLightSettings(enabled=False)) is night


def test_black_frame_stays_black_within_the_gain_limit() -> None:
    black = np.full((60, 80, 3), 3, dtype=np.uint8)
    assert lift(black, LowLightSettings(clahe_clip=0.0, stretch=True)).max() == 0
    ramp = np.tile(np.arange(0, 20, dtype=np.uint8)[None, :, None], (10, 1, 3))
    assert lift(ramp, LowLightSettings(clahe_clip=0.0, stretch=True, max_gain=2.0)).max() <= 40


def test_letterbox_lifts_the_picture_but_not_the_padding() -> None:
    night = darkened(photo("cow"))
    spec = InputSpec(width=320, height=320, resize="letterbox", color="BGR")
    plain, placement = preprocess(night, spec)
    lifted, same_placement = preprocess(night, spec, LowLightSettings())
    assert placement == same_placement
    top = round(placement.offset_y * 320)
    assert top > 0
    assert (lifted[0, :top] == PAD_VALUE).all()
    assert lifted[0, top:-top].mean() > 1.5 * plain[0, top:-top].mean()


def test_stretch_preprocess_lifts_only_dark_frames() -> None:
    day = photo("cow")
    spec = InputSpec(width=300, height=300)
    with_lift, _ = preprocess(day, spec, LowLightSettings())
    without, _ = preprocess(day, spec)
    assert np.array_equal(with_lift, without)
    night = darkened(day)
    assert preprocess(night, spec, LowLightSettings())[0].mean() > 1.5 * (
        preprocess(night, spec)[0].mean()
    )


@pytest.mark.parametrize(
    "bad",
    [{"dark_below": 300.0}, {"max_gain": 0.5}, {"clahe_grid": 0}, {"low_percentile": 60.0}],
)
def test_bad_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        LowLightSettings.model_validate(bad)


def test_merge_passes_keeps_the_better_box_of_each_pair_per_class() -> None:
    cow = Detection(label="cow", class_id=21, score=0.6, x1=0.1, y1=0.1, x2=0.4, y2=0.4)
    same_cow_lifted = cow.model_copy(update={"score": 0.8, "x1": 0.11})
    person = Detection(label="person", class_id=1, score=0.5, x1=0.1, y1=0.1, x2=0.4, y2=0.4)
    other_cow = cow.model_copy(update={"x1": 0.6, "x2": 0.9})
    merged = merge_passes([cow, person, other_cow, same_cow_lifted], iou=0.45)
    assert merged == [same_cow_lifted, cow.model_copy(update={"x1": 0.6, "x2": 0.9}), person]


@pytest.fixture(scope="module")
def plain_detector(model_cache: Path) -> Iterator[Detector]:
    detector = create(
        {"type": "model", "cache_dir": str(model_cache), "low_light": {"enabled": False}}
    )
    detector.load()
    yield detector
    detector.close()


def sampled(scene: str, label: str, tmp_path: Path) -> list[tuple[np.ndarray, tuple[float, ...]]]:
    """About 24 frames of a composed night scene with a fully seen `label`, and its box (12
    were too few: on a CPU without bf16 the lift's gain on them was 2 frames, on 24 it is 6)."""
    result = compose(Settings(scene=scene, seconds=12, night=True), tmp_path)
    truth = result.truth
    wanted = [
        (f.frame, o.bbox)
        for f in truth.frames
        for o in f.objects
        if o.label == label and o.visibility >= 0.9
    ]
    picked = wanted[:: max(1, len(wanted) // 24)][:24]
    video = cv2.VideoCapture(str(result.video))
    out: list[tuple[np.ndarray, tuple[float, ...]]] = []
    for frame_no, (x1, y1, x2, y2) in picked:
        video.set(cv2.CAP_PROP_POS_FRAMES, frame_no)
        ok, image = video.read()
        assert ok
        box = (x1 / truth.width, y1 / truth.height, x2 / truth.width, y2 / truth.height)
        out.append((np.asarray(image, dtype=np.uint8), box))
    video.release()
    return out


def hits(
    detector: Detector, samples: list[tuple[np.ndarray, tuple[float, ...]]], label: str
) -> int:
    """Frames where a `label` box overlaps the truth box (IoU >= 0.3) or is centred inside it
    (as bench.detection_recall counts)."""
    found = 0
    for image, (x1, y1, x2, y2) in samples:
        for d in detector.infer(image):
            ix = max(0.0, min(d.x2, x2) - max(d.x1, x1))
            iy = max(0.0, min(d.y2, y2) - max(d.y1, y1))
            union = d.area + (x2 - x1) * (y2 - y1) - ix * iy
            cx, cy = (d.x1 + d.x2) / 2, (d.y1 + d.y2) / 2
            centred = x1 <= cx <= x2 and y1 <= cy <= y2
            if d.label == label and (ix * iy / union >= 0.3 or centred):
                found += 1
                break
    return found


@pytest.mark.timeout(480)  # two model loads and two composed scenes on a loaded box
def test_night_cows_are_found_with_the_lift_and_people_are_not_lost(
    shipped_detector: Detector, plain_detector: Detector, tmp_path: Path
) -> None:
    cows = sampled("escape", "cow", tmp_path / "escape")
    assert len(cows) >= 6
    lifted, plain = hits(shipped_detector, cows, "cow"), hits(plain_detector, cows, "cow")
    assert lifted >= plain + 3, (lifted, plain)
    people = sampled("intruder", "person", tmp_path / "intruder")
    assert hits(shipped_detector, people, "person") >= hits(plain_detector, people, "person")
