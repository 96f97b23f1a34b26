"""Appliance settings: file + environment, unknown keys refused, secrets guarded."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import SettingsError
from appliance.settings import DEV_API_TOKEN, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "appliance.toml"
    path.write_text(text)
    return path


def test_file_values_are_read_and_environment_overrides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, 'api_token = "s3cret-token"\n[http]\nport = 9000\n[mqtt]\nport = 1999\n')
    monkeypatch.setenv("BYRE_APPLIANCE_HTTP__PORT", "9100")

    settings = load_settings(path)

    assert settings.http.port == 9100
    assert settings.mqtt.port == 1999


def test_unknown_key_in_file_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'api_token = "s3cret-token"\n[http]\nprot = 9000\n')
    with pytest.raises(SettingsError, match=r"appliance\.toml: http\.prot: Extra inputs"):
        load_settings(path)


def test_unknown_environment_variable_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BYRE_APPLIANCE_API_TOKEN", "s3cret-token")
    monkeypatch.setenv("BYRE_APPLIANCE_HTTPPORT", "1")
    with pytest.raises(SettingsError, match="BYRE_APPLIANCE_HTTPPORT: unknown setting"):
        load_settings()


@pytest.mark.parametrize("token", [None, DEV_API_TOKEN])
def test_production_refuses_missing_or_default_api_token(token: str | None) -> None:
    overrides = {"api_token": token} if token else {}
    with pytest.raises(SettingsError, match="api_token must be set"):
        load_settings(None, **overrides)


def test_development_accepts_the_default_token() -> None:
    assert load_settings(environment="development").effective_api_token() == DEV_API_TOKEN


def test_secret_is_not_shown_in_repr_or_errors(tmp_path: Path) -> None:
    path = write(tmp_path, 'api_token = "very-secret-value"\n[http]\nport = "high"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    settings = load_settings(environment="development", api_token="very-secret-value")

    assert "very-secret-value" not in str(caught.value)
    assert "very-secret-value" not in repr(settings)


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read settings"):
        load_settings(tmp_path / "missing.toml")
