"""Errors of local alerting."""

from __future__ import annotations

from appliance.errors import ApplianceError


class AlertError(ApplianceError):
    """Base of alerting errors."""


class AlertDeliveryError(AlertError):
    """An alert could not be delivered within its attempts."""
