"""Media settings: defaults from the issue, bad values refused with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import SettingsError
from appliance.media.settings import MediaSettings
from appliance.settings import load_settings


def test_defaults_match_the_design() -> None:
    settings = MediaSettings()
    assert (settings.pre_s, settings.post_s, settings.fps) == (5.0, 10.0, 5.0)
    assert settings.enabled


def test_media_section_comes_from_the_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "appliance.toml"
    path.write_text(
        'environment = "development"\n'
        f'data_dir = "{tmp_path}"\n'
        "[media]\npre_s = 3.0\n[media.retention]\nmax_age_days = 7\n"
    )
    monkeypatch.setenv("BYRE_APPLIANCE_MEDIA__POST_S", "20")
    settings = load_settings(path)
    assert settings.media.pre_s == 3.0
    assert settings.media.post_s == 20.0
    assert settings.media.retention.max_age_days == 7.0


@pytest.mark.parametrize(
    ("section", "key"),
    [
        pytest.param(
            "pre_s = 20.0\npost_s = 50.0\nmax_clip_s = 30.0", "max_clip_s", id="clip-too-short"
        ),
        pytest.param("fps = 0", "media.fps", id="no-frames"),
        pytest.param('preset = "placebo"', "media.preset", id="slow-preset"),
        pytest.param("clip_seconds = 3", "media.clip_seconds", id="unknown-key"),
    ],
)
def test_bad_media_settings_are_refused_naming_the_key(
    tmp_path: Path, section: str, key: str
) -> None:
    path = tmp_path / "appliance.toml"
    path.write_text(f'environment = "development"\n[media]\n{section}\n')
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_settings(path)
