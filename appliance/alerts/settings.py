"""Alert routes: where incidents go, from which escalation level, outside quiet hours."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from contracts import FarmEventKind, Severity

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: time = Field(description="Local time the quiet period starts, e.g. 22:00.")
    end: time = Field(description="Local time it ends, e.g. 06:00 (may cross midnight).")
    allow_critical: bool = Field(default=True, description="Critical incidents still alert.")

    def covers(self, moment: datetime) -> bool:
        now = moment.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


class AlertRoute(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, description="Shown in logs and the UI.")
    channel: Literal["webhook", "mqtt"] = Field(description="How this route alerts.")
    url: str | None = Field(
        default=None, pattern=r"^https?://", description="Webhook URL (LAN gateway)."
    )
    secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 key for webhooks.")
    min_severity: Severity = Field(default=Severity.WARNING, description="Lower ones are skipped.")
    kinds: list[FarmEventKind] | None = Field(
        default=None, description="Only these kinds of incident; default: all."
    )
    from_escalation_level: int = Field(
        default=0, ge=0, description="0: when opened; N: once escalated to level N."
    )
    quiet_hours: QuietHours | None = Field(default=None, description="No alerts in this window.")

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> AlertRoute:
        if self.channel == "webhook" and self.url is None:
            raise ValueError("a webhook route needs a url")
        return self

    def wants(self, kind: FarmEventKind, severity: Severity, moment: datetime) -> bool:
        if _RANK[severity] < _RANK[self.min_severity]:
            return False
        if self.kinds is not None and kind not in self.kinds:
            return False
        quiet = self.quiet_hours
        return not (
            quiet
            and quiet.covers(moment)
            and not (quiet.allow_critical and severity is Severity.CRITICAL)
        )


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    routes: list[AlertRoute] = Field(default_factory=list, description="The escalation chain.")
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="Per webhook attempt.")
    retry_min_s: float = Field(default=1.0, gt=0, description="First retry delay.")
    retry_max_s: float = Field(default=60.0, gt=0, description="Longest retry delay.")
    max_attempts: int = Field(default=10, ge=1, description="Webhook attempts before giving up.")
    sse_heartbeat_s: float = Field(
        default=15.0, gt=0, description="Keep-alive on the push channel."
    )
