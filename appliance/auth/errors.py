"""Errors of local users and sessions; the web edge maps them to replies."""

from __future__ import annotations

from appliance.errors import ApplianceError


class AuthError(ApplianceError):
    """Base of the local user and session errors."""


class SetupDoneError(AuthError):
    """The first user exists already; setup is closed."""


class UserExistsError(AuthError):
    """A user with that name exists already."""


class UnknownUserError(AuthError):
    """No such user."""


class LastTechnicianError(AuthError):
    """Removing this user would leave the appliance without a technician."""


class RateLimitedError(AuthError):
    """Too many failed sign-ins; `retry_after_s` says when the next one is allowed."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s
