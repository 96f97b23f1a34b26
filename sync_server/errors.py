"""Errors of the central server; only the HTTP edge maps them to status codes."""

from __future__ import annotations


class CentralServerError(Exception):
    """Base of every central error."""


class SettingsError(CentralServerError):
    """The configuration is invalid; the message names the source, key and reason."""


class AuthError(CentralServerError):
    """Missing, unknown or revoked credential."""


class EnrolmentRefused(CentralServerError):
    """The enrolment code is unknown, used or expired."""
