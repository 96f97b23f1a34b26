"""Errors raised when a message or topic does not match the contract."""

from __future__ import annotations


class ContractError(ValueError):
    """A message does not match its contract; `field` names the offending field."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class TopicError(ContractError):
    """An MQTT topic does not follow the device topic contract."""
