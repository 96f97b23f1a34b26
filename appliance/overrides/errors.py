"""Errors of the settings overrides."""

from __future__ import annotations

from appliance.errors import ApplianceError


class OverrideError(ApplianceError):
    """Base of every override error."""


class OverrideRejected(OverrideError):
    """A change is invalid or cannot be applied; nothing was stored or changed."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field
