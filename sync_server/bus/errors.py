"""Errors of the bus bridge; each bus translates its client's errors into these."""

from __future__ import annotations

from sync_server.errors import CentralServerError


class BusError(CentralServerError):
    """The bus could not be reached or did not confirm a publish; retried with back-off."""
