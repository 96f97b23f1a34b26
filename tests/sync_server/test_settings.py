"""Central settings: unknown keys refused, secrets guarded, supported databases only."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_server.errors import SettingsError
from sync_server.settings import load_settings


def test_unknown_environment_variable_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BYRE_CENTRAL_DATABASE", "x")
    with pytest.raises(SettingsError, match="BYRE_CENTRAL_DATABASE: unknown setting"):
        load_settings(environment="development")


def test_unknown_key_in_file_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text('environment = "development"\nbind = "0.0.0.0"\n')
    with pytest.raises(SettingsError, match=r"central\.toml: bind: Extra inputs"):
        load_settings(path)


def test_production_without_admin_token_is_refused() -> None:
    with pytest.raises(SettingsError, match="admin_token must be set"):
        load_settings()


def test_unsupported_database_url_is_refused() -> None:
    with pytest.raises(SettingsError, match="database_url must start with"):
        load_settings(environment="development", database_url="mysql://x")
