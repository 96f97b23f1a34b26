"""Settings of local sign-in: session lifetimes, throttling, password hashing cost."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_idle_s: float = Field(
        default=12 * 3600, gt=0, description="A session unused this long ends (seconds)."
    )
    session_max_s: float = Field(
        default=7 * 24 * 3600, gt=0, description="A session ends this long after sign-in."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed sign-ins per username or address allowed."
    )
    login_window_s: float = Field(
        default=15 * 60, gt=0, description="Window the failed sign-ins are counted in (seconds)."
    )
    password_time_cost: int = Field(
        default=3, ge=1, le=20, description="Argon2id passes over memory."
    )
    password_memory_kib: int = Field(
        default=64 * 1024, ge=8 * 1024, le=1024 * 1024, description="Argon2id memory (KiB)."
    )
    password_parallelism: int = Field(default=4, ge=1, le=16, description="Argon2id lanes.")

    @model_validator(mode="after")
    def _idle_within_max(self) -> AuthSettings:
        if self.session_idle_s > self.session_max_s:
            raise ValueError("session_idle_s must be <= session_max_s")
        return self
