"""Identifiers: time-sortable event ids and the shape of farm, appliance and device ids."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import uuid6
from pydantic import StringConstraints

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
"""A farm, appliance, device or camera id: safe in MQTT topics, bus keys and URLs."""

CorrelationId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""Groups events that concern one case (camera + rule + zone + track, or a command)."""


def new_id() -> UUID:
    """A new UUIDv7: unique and sortable by creation time."""
    value: UUID = uuid6.uuid7()
    return UUID(int=value.int)
