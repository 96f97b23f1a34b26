"""Camera settings: kinds inferred from URLs, clear errors, redacted credentials."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.camera import CameraKind, CameraSettings, CameraSettingsError, parse_camera_settings
from appliance.camera.settings import redact_url


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rtsp://user:pw@10.0.0.5:554/stream1", CameraKind.RTSP),
        ("http://10.0.0.6/video.mjpg", CameraKind.MJPEG),
        ("http://10.0.0.6/cgi-bin/snapshot.cgi?channel=1", CameraKind.SNAPSHOT),
        ("https://cam.local/image.jpg", CameraKind.SNAPSHOT),
        ("0", CameraKind.USB),
        ("/dev/video2", CameraKind.USB),
        ("/srv/demo/barn.mp4", CameraKind.FILE),
    ],
)
def test_kind_is_inferred_from_the_url(url: str, kind: CameraKind) -> None:
    settings = CameraSettings(id="barn-1", url=url)

    assert settings.source_kind is kind
    assert settings.kind is kind


def test_explicit_kind_wins_over_the_guess() -> None:
    settings = CameraSettings(id="gate", url="http://10.0.0.6/stream", kind=CameraKind.SNAPSHOT)

    assert settings.source_kind is CameraKind.SNAPSHOT


def test_defaults_are_five_detections_per_second_and_one_inference_every_two_seconds() -> None:
    settings = CameraSettings(id="barn-1", url="rtsp://cam/stream")

    assert settings.detect_fps == 5.0
    assert settings.min_inference_interval_s == 2.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "barn 1", "url": "0"}, r"camera barn 1: id: String should match pattern"),
        ({"id": "barn", "url": "0", "fsp": 5}, r"camera barn: fsp: Extra inputs"),
        ({"id": "barn", "url": "0", "motion": {"blur": 4}}, r"motion\.blur: .*odd"),
        (
            {"id": "barn", "url": "rtsp://u:secret@cam/1", "kind": "mjpeg"},
            r"kind 'mjpeg' does not fit url 'rtsp://u:\*\*\*@cam/1'",
        ),
        (
            {"id": "barn", "url": "0", "reconnect": {"initial_s": 5, "max_s": 1}},
            r"reconnect: .*max_s must be >= initial_s",
        ),
        ({"id": "barn", "url": "0", "detect_fps": 0}, r"detect_fps: Input should be greater"),
        ({"url": "0"}, r"camera \?: id: Field required"),
    ],
)
def test_invalid_settings_are_refused_naming_camera_key_and_reason(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(CameraSettingsError, match=message):
        parse_camera_settings(data)


def undescribed_fields(model: type[Any], prefix: str = "") -> list[str]:
    """Fields of `model` and its nested sections that lack a description."""
    missing = []
    for name, field in model.model_fields.items():
        if not field.description:
            missing.append(prefix + name)
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        for section in (c for c in candidates if hasattr(c, "model_fields")):
            missing += undescribed_fields(section, f"{prefix}{name}.")
    return missing


def test_every_field_is_described() -> None:
    assert undescribed_fields(CameraSettings) == []
    assert "health.night.start" not in undescribed_fields(CameraSettings)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:s3cret@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live"),
        ("http://10.0.0.6/video.mjpg", "http://10.0.0.6/video.mjpg"),
        ("/srv/demo/barn.mp4", "/srv/demo/barn.mp4"),
    ],
)
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
