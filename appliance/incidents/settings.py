"""Incident engine policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts import FarmEventKind


class KindPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_resolve_after_s: float | None = Field(
        default=None, gt=0, description="Override: resolve after the condition is gone this long."
    )
    cooldown_s: float | None = Field(
        default=None, ge=0, description="Override: quiet time after a resolve."
    )


class IncidentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cooldown_s: float = Field(
        default=120.0, ge=0, description="After a resolve, repeats of the same case stay quiet."
    )
    auto_resolve_after_s: float = Field(
        default=120.0, gt=0, description="Resolve when no event confirmed the case this long."
    )
    escalate_after_s: float = Field(
        default=300.0, gt=0, description="Escalate an unacknowledged incident after this long."
    )
    max_escalation_level: int = Field(default=3, ge=0, description="Escalation stops here.")
    update_interval_s: float = Field(
        default=10.0, ge=0, description="Publish repeats as `incident.updated` at most this often."
    )
    tick_s: float = Field(default=1.0, gt=0, description="How often timers are checked.")
    per_kind: dict[FarmEventKind, KindPolicy] = Field(
        default_factory=dict, description="Policy overrides per kind of farm event."
    )

    def auto_resolve_after(self, kind: FarmEventKind) -> float:
        override = self.per_kind.get(kind)
        if override and override.auto_resolve_after_s is not None:
            return override.auto_resolve_after_s
        return self.auto_resolve_after_s

    def cooldown(self, kind: FarmEventKind) -> float:
        override = self.per_kind.get(kind)
        if override and override.cooldown_s is not None:
            return override.cooldown_s
        return self.cooldown_s
