"""Errors of the appliance; the HTTP and MQTT edges map them to replies."""

from __future__ import annotations


class ApplianceError(Exception):
    """Base of every appliance error."""


class SettingsError(ApplianceError):
    """The configuration is invalid; the message names the file, key and reason."""


class StoreError(ApplianceError):
    """The local database failed or is in an unexpected state."""


class NotEnrolledError(ApplianceError):
    """The appliance has no central credential yet."""


class CentralError(ApplianceError):
    """Central refused or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EnrolmentError(CentralError):
    """Central refused the enrolment code."""
