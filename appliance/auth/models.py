"""Roles, users, sessions and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

Language = Literal["en", "ru"]

# Name of the principal that authenticates with the technician API token (CLI, integrations).
API_TOKEN_PRINCIPAL = "api-token"


class Role(StrEnum):
    FARMER = "farmer"
    TECHNICIAN = "technician"

    def allows(self, needed: Role) -> bool:
        """A technician may do everything a farmer may."""
        return self is Role.TECHNICIAN or needed is Role.FARMER


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    password_hash: str
    language: Language | None
    created_at: datetime
    disabled_at: datetime | None = None

    def public(self) -> dict[str, str | None]:
        return {
            "username": self.username,
            "role": self.role.value,
            "language": self.language,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SessionInfo:
    """A signed-in browser session; the token itself is stored only as a hash."""

    token_hash: str
    username: str
    role: Role
    language: Language | None
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a signed-in user, or the technician API token."""

    name: str
    role: Role
    session: SessionInfo | None = None
