"""Settings of the model runner (a section the appliance settings can embed as is)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,31}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginSpec(_Section):
    """One detector plugin the runner hosts, in a worker process of its own."""

    name: str = Field(
        default="",
        description="Name requests use to pick this plugin (lower-case letters, digits, `-`, "
        "`_`; at most 32); defaults to the plugin type.",
    )
    config: dict[str, Any] = Field(
        description="The plugin's own config; `type` names the plugin. Validated by the worker "
        "against the plugin's config model: an invalid one leaves the plugin `failed`."
    )

    @model_validator(mode="after")
    def _config_names_a_type(self) -> PluginSpec:
        kind = self.config.get("type")
        if not isinstance(kind, str) or not kind:
            raise ValueError("config.type must name the plugin (a non-empty string)")
        if not self.name:
            self.name = kind
        if not re.fullmatch(NAME_PATTERN, self.name):
            raise ValueError(
                f"name {self.name!r} must be lower-case letters, digits, '-' or '_' (at most 32)"
            )
        return self


class RunnerSettings(_Section):
    """How the runner starts, watches and restarts its plugin workers."""

    socket_dir: Path | None = Field(
        default=None,
        description="Directory of the workers' Unix sockets; a private temporary directory when "
        "unset. Keep it short: a socket path is limited to 107 bytes.",
    )
    request_timeout_s: float = Field(
        default=1.0, gt=0, description="Deadline of a detect request when the caller gives none."
    )
    hang_margin_s: float = Field(
        default=2.0,
        gt=0,
        description="A request still unanswered this long after its deadline means the worker "
        "hangs: it is killed and restarted.",
    )
    heartbeat_interval_s: float = Field(
        default=0.5, gt=0, description="How often a worker says it is alive."
    )
    heartbeat_timeout_s: float = Field(
        default=3.0,
        gt=0,
        description="Silence after which a worker counts as hung and is killed.",
    )
    load_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Longest a worker may take to start and load its plugin before it counts "
        "as hung.",
    )
    restart_backoff_min_s: float = Field(
        default=0.2, ge=0, description="Delay before the first restart after a crash."
    )
    restart_backoff_max_s: float = Field(
        default=2.0,
        ge=0,
        description="Longest delay between restarts (the delay doubles per crash, with jitter).",
    )
    quarantine_crashes: int = Field(
        default=3,
        ge=1,
        description="Crashes or hangs within `quarantine_window_s` that quarantine a plugin.",
    )
    quarantine_window_s: float = Field(
        default=600.0, gt=0, description="Window in which crashes are counted for quarantine."
    )
    slots_per_camera: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Frames one camera may have in flight: shared-memory slots in its ring.",
    )
    shutdown_grace_s: float = Field(
        default=2.0,
        gt=0,
        description="How long a worker may take to exit after it is told to stop before it "
        "is killed.",
    )
    extra_modules: list[str] = Field(
        default_factory=list,
        description="Modules searched for detector plugins besides the built-in ones and the "
        "`byre.plugins` entry points.",
    )
    plugins: list[PluginSpec] = Field(
        default_factory=list, description="The detector plugins to run, one worker each."
    )

    @model_validator(mode="after")
    def _backoff_ordered(self) -> RunnerSettings:
        if self.restart_backoff_max_s < self.restart_backoff_min_s:
            raise ValueError("restart_backoff_max_s must be >= restart_backoff_min_s")
        return self

    @model_validator(mode="after")
    def _heartbeat_timeout_longer_than_interval(self) -> RunnerSettings:
        if self.heartbeat_timeout_s <= 2 * self.heartbeat_interval_s:
            raise ValueError("heartbeat_timeout_s must exceed twice heartbeat_interval_s")
        return self

    @model_validator(mode="after")
    def _plugin_names_unique(self) -> RunnerSettings:
        names = [spec.name for spec in self.plugins]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"plugins: names must be unique, repeated: {duplicates}")
        return self
