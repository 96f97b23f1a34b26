"""Errors of the sync context (all are `CentralError`s, so callers may catch that alone)."""

from __future__ import annotations

from appliance.errors import CentralError


class CentralTimeoutError(CentralError):
    """Central did not answer within the request timeout (the batch may be too big)."""
