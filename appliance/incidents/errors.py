"""Errors of the incident engine."""

from __future__ import annotations

from appliance.errors import ApplianceError


class IncidentError(ApplianceError):
    """Base of incident errors."""


class IncidentNotFound(IncidentError):
    pass


class IncidentClosed(IncidentError):
    """The incident is resolved; it can no longer be acknowledged."""
