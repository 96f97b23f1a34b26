"""Runner settings: unknown keys, nameless plugins and contradictions are refused by field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from appliance.inference import PluginSpec, RunnerSettings


def settings(**values: Any) -> RunnerSettings:
    return RunnerSettings.model_validate(values)


def test_plugin_name_defaults_to_its_type() -> None:
    made = settings(
        plugins=[{"config": {"type": "fake-boxes"}}, {"name": "b", "config": {"type": "x"}}]
    )
    assert [p.name for p in made.plugins] == ["fake-boxes", "b"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"hang_margin": 1}, r"hang_margin\n  Extra inputs", id="unknown-key"),
        pytest.param(
            {"plugins": [{"config": {"delay_s": 1}}]},
            r"plugins\.0\n  Value error, config\.type must name the plugin",
            id="plugin-without-type",
        ),
        pytest.param(
            {"plugins": [{"config": {"type": "slow"}, "delay_s": 1}]},
            r"plugins\.0\.delay_s\n  Extra inputs",
            id="plugin-field-outside-config",
        ),
        pytest.param(
            {"plugins": [{"name": "Cam/1", "config": {"type": "slow"}}]},
            r"plugins\.0\n  Value error, name 'Cam/1' must be lower-case",
            id="bad-name",
        ),
        pytest.param(
            {"plugins": [{"config": {"type": "slow"}}, {"config": {"type": "slow"}}]},
            r"plugins: names must be unique, repeated: \['slow'\]",
            id="duplicate-name",
        ),
        pytest.param(
            {"restart_backoff_min_s": 5, "restart_backoff_max_s": 1},
            "restart_backoff_max_s must be >= restart_backoff_min_s",
            id="backoff-reversed",
        ),
        pytest.param(
            {"heartbeat_interval_s": 1, "heartbeat_timeout_s": 1.5},
            "heartbeat_timeout_s must exceed twice heartbeat_interval_s",
            id="heartbeat-timeout-too-short",
        ),
        pytest.param(
            {"quarantine_crashes": 0},
            r"quarantine_crashes\n  Input should be greater than or equal to 1",
            id="quarantine-never",
        ),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_every_field_is_described() -> None:
    undocumented = [
        f"{model.__name__}.{name}"
        for model in (RunnerSettings, PluginSpec)
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert undocumented == []
