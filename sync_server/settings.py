"""Central settings: one validated tree from a TOML file and `BYRE_CENTRAL_*` variables.

Environment variables override the file; nested keys use `__`. Unknown keys are errors.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sync_server.bus.settings import BusSettings
from sync_server.errors import SettingsError
from sync_server.media.settings import MediaSettings

ENV_PREFIX = "BYRE_CENTRAL_"
DEV_ADMIN_TOKEN = "byre-dev-admin"  # refused outside development


class CentralSettings(BaseSettings):
    """Everything the central server needs to run."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    environment: Literal["development", "production"] = Field(
        default="production", description="`development` allows built-in default secrets."
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///byre-central.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///FILE or postgresql+asyncpg://...",
    )
    host: str = Field(default="127.0.0.1", description="Address the API binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the API.")
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token of the built-in admin (secret)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    bus: BusSettings = Field(
        default_factory=BusSettings, description="Event bus bridge (Kafka, RabbitMQ, NATS)."
    )
    media: MediaSettings = Field(
        default_factory=MediaSettings, description="Object store of clips and snapshots."
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
    def _database_url_supported(self) -> CentralSettings:
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "database_url must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return self

    @model_validator(mode="after")
    def _admin_token_required_in_production(self) -> CentralSettings:
        token = self.admin_token.get_secret_value() if self.admin_token else None
        if self.environment == "production" and token in (None, DEV_ADMIN_TOKEN):
            raise ValueError(
                "admin_token must be set to a secret of your own outside development "
                f"(set {ENV_PREFIX}ADMIN_TOKEN)"
            )
        return self

    def effective_admin_token(self) -> str:
        return self.admin_token.get_secret_value() if self.admin_token else DEV_ADMIN_TOKEN


def load_settings(path: Path | None = None, **overrides: Any) -> CentralSettings:
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
    known = {name.lower() for name in CentralSettings.model_fields}
    for key in os.environ:
        top = key[len(ENV_PREFIX) :].lower().split("__", 1)[0]
        if key.upper().startswith(ENV_PREFIX) and top not in known:
            raise SettingsError(f"environment: {key}: unknown setting")
    try:
        return CentralSettings(**data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()
        )
        raise SettingsError(f"{source}: {problems}") from err
