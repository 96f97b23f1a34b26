"""The `bus` section of central's settings: defaults, environment, unknown keys, bad names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync_server.errors import SettingsError
from sync_server.settings import load_settings


def test_default_bus_is_none_with_commands_consumed() -> None:
    settings = load_settings(environment="development")
    assert settings.bus.kind == "none"
    assert settings.bus.consume_commands is True


def test_nested_environment_variables_choose_and_configure_the_bus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BYRE_CENTRAL_BUS__KIND", "kafka")
    monkeypatch.setenv("BYRE_CENTRAL_BUS__KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("BYRE_CENTRAL_BUS__KAFKA__IDEMPOTENT", "false")
    settings = load_settings(environment="development")
    assert settings.bus.kind == "kafka"
    assert settings.bus.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.bus.kafka.idempotent is False


def test_unknown_bus_key_in_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text('environment = "development"\n[bus.nats]\nservers = "nats://x"\n')
    with pytest.raises(SettingsError, match=r"central\.toml: bus\.nats\.servers: Extra inputs"):
        load_settings(path)


@pytest.mark.parametrize(
    ("bus", "where"),
    [
        pytest.param({"kind": "zeromq"}, "bus.kind", id="unknown-kind"),
        pytest.param({"nats": {"subject_prefix": "a..b"}}, "bus.nats.subject_prefix", id="prefix"),
        pytest.param({"nats": {"stream": "has.dot"}}, "bus.nats.stream", id="stream-name"),
        pytest.param({"kafka": {"topic_prefix": "with space"}}, "bus.kafka.topic_prefix"),
        pytest.param({"relay": {"retry_min_s": 5, "retry_max_s": 1}}, "bus.relay", id="retry"),
        pytest.param({"relay": {"batch_size": 0}}, "bus.relay.batch_size", id="batch"),
    ],
)
def test_invalid_bus_setting_is_refused_naming_the_key(bus: dict[str, object], where: str) -> None:
    with pytest.raises(SettingsError, match=f"environment: {re.escape(where)}: "):
        load_settings(environment="development", bus=bus)


def test_broker_urls_are_secrets() -> None:
    settings = load_settings(
        environment="development", bus={"rabbitmq": {"url": "amqp://u:hunter2@mq/"}}
    )
    assert "hunter2" not in repr(settings.bus)
    assert settings.bus.rabbitmq.url.get_secret_value() == "amqp://u:hunter2@mq/"
