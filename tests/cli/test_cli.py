"""The `byre` command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_help_lists_the_command_groups() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("appliance", "central", "contracts", "demo", "enroll"):
        assert group in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["appliance", "status", "--appliance", "http://127.0.0.1:9"], "cannot reach"),
        (
            ["enroll", "--server", "http://x", "--code", "C", "--appliance", "http://127.0.0.1:9"],
            "cannot reach",
        ),
    ],
)
def test_unreachable_service_is_a_clear_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_appliance_settings_exit_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYRE_APPLIANCE_HTTP__PORT", "not-a-port")
    result = runner.invoke(app, ["appliance", "run"])
    assert result.exit_code == 2
    assert "http.port" in result.output
