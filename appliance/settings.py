"""Appliance settings: one validated tree from a TOML file and `BYRE_APPLIANCE_*` variables.

Environment variables override the file; nested keys use `__`
(`BYRE_APPLIANCE_HTTP__PORT=8080`). Unknown keys are errors.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from appliance.alerts.settings import AlertSettings
from appliance.auth.settings import AuthSettings
from appliance.devices.settings import DeviceSettings
from appliance.errors import SettingsError
from appliance.incidents.settings import IncidentSettings
from appliance.media.settings import MediaSettings
from appliance.mqtt.settings import MqttSettings as MqttSettings  # re-exported
from appliance.pipeline.settings import VisionPipelineSettings

ENV_PREFIX = "BYRE_APPLIANCE_"
DEV_API_TOKEN = "byre-dev-token"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpSettings(_Section):
    host: str = Field(default="0.0.0.0", description="Address the local web UI and API bind.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port of the local web UI/API.")


class SyncSettings(_Section):
    batch_size: int = Field(
        default=1000, ge=1, le=1000, description="Events per sync request at most."
    )
    max_in_flight: int = Field(
        default=4,
        ge=1,
        le=16,
        description="Sync requests under way at once (1: central commits batches in seq order).",
    )
    idle_interval_s: float = Field(
        default=5.0, gt=0, description="Poll interval when nothing new was recorded."
    )
    retry_min_s: float = Field(default=0.5, gt=0, description="First retry delay after a failure.")
    retry_max_s: float = Field(default=60.0, gt=0, description="Longest retry delay.")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one request.")
    desired_wait_s: float = Field(
        default=10.0,
        ge=0,
        le=60,
        description="How long central may hold a desired-state poll open when nothing changed.",
    )
    media_upload: bool = Field(
        default=True, description="Upload clips and snapshots once the event outbox is drained."
    )
    media_daily_budget_bytes: int | None = Field(
        default=None,
        ge=0,
        description="Media bytes uploaded per UTC day at most (metered links); unset: no limit. "
        "Events always go.",
    )
    media_retry_max_s: float = Field(
        default=600.0, gt=0, description="Longest wait before a failed media upload is retried."
    )
    media_parallel_uploads: int = Field(
        default=4, ge=1, le=32, description="Media files uploaded at the same time."
    )

    @model_validator(mode="after")
    def _retry_bounds_ordered(self) -> SyncSettings:
        if self.retry_max_s < self.retry_min_s:
            raise ValueError("retry_max_s must be >= retry_min_s")
        return self


class DemoSourceSettings(_Section):
    enabled: bool = Field(default=False, description="Record scripted farm events (demo only).")
    interval_s: float = Field(default=1.0, gt=0, description="Seconds between scripted events.")
    sensors: int = Field(default=2, ge=0, le=100, description="Simulated MQTT climate sensors.")


class ApplianceSettings(BaseSettings):
    """Everything the appliance needs to run."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    environment: Literal["development", "production"] = Field(
        default="production", description="`development` allows built-in default secrets."
    )
    name: str = Field(
        default_factory=lambda: os.uname().nodename, description="Name shown to central."
    )
    data_dir: Path = Field(
        default=Path("/var/lib/byre"), description="Database and media live here."
    )
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token of the technician API (secret)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    http: HttpSettings = Field(default_factory=HttpSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    demo_source: DemoSourceSettings = Field(default_factory=DemoSourceSettings)
    devices: DeviceSettings = Field(
        default_factory=DeviceSettings, description="Device commands, status and telemetry."
    )
    incidents: IncidentSettings = Field(
        default_factory=IncidentSettings, description="Incident case logic."
    )
    media: MediaSettings = Field(
        default_factory=MediaSettings, description="Incident clips, snapshots and retention."
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings, description="Local users, sessions and sign-in throttling."
    )
    alerts: AlertSettings = Field(
        default_factory=AlertSettings, description="Alert routes and the push channel."
    )
    vision: VisionPipelineSettings = Field(
        default_factory=VisionPipelineSettings, description="Detectors and cameras."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _api_token_required_in_production(self) -> ApplianceSettings:
        token = self.api_token.get_secret_value() if self.api_token else None
        if self.environment == "production" and token in (None, DEV_API_TOKEN):
            raise ValueError(
                "api_token must be set to a secret of your own outside development "
                f"(set {ENV_PREFIX}API_TOKEN)"
            )
        return self

    @property
    def database_path(self) -> Path:
        return self.data_dir / "appliance.db"

    def effective_api_token(self) -> str:
        return self.api_token.get_secret_value() if self.api_token else DEV_API_TOKEN


def load_settings(path: Path | None = None, **overrides: Any) -> ApplianceSettings:
    """Read settings from `path` (TOML) and the environment; errors name file, key and reason."""
    data: dict[str, Any] = {}
    source = "environment"
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise SettingsError(f"{path}: cannot read settings: {err}") from err
    data.update(overrides)
    _refuse_unknown_env(ApplianceSettings)
    try:
        return ApplianceSettings(**data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()
        )
        raise SettingsError(f"{source}: {problems}") from err


def _refuse_unknown_env(model: type[BaseSettings]) -> None:
    known = {name.lower() for name in model.model_fields}
    for key in os.environ:
        if key.upper().startswith(ENV_PREFIX):
            top = key[len(ENV_PREFIX) :].lower().split("__", 1)[0]
            if top not in known:
                raise SettingsError(f"environment: {key}: unknown setting")
