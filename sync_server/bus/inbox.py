"""HQ's command requests from the bus: validated, then stored once per farm and correlation id.

Every bus hands each message to `CommandInbox.handle` and acknowledges it according to the
outcome. Database failures are retried here, with back-off, until the request is stored, so a
message is never acknowledged before it is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ContractError, decode
from contracts.bus import HEADER_EVENT_ID, CommandRequest
from sync_server.bus.backoff import Backoff
from sync_server.models import CommandRecord, CommandState

log = logging.getLogger(__name__)

SOURCE_BUS = "bus"
_MAX_LOGGED_BODY = 200


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    """Stored before (same farm and correlation id): acknowledged, nothing changes."""
    REJECTED = "rejected"
    """Malformed: dead-lettered or dropped, never redelivered."""
    OWN_EVENT = "own_event"
    """An appliance's `commands.requested` event the bridge itself published: ignored."""


@dataclass
class InboxStats:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    own_events: int = 0
    last_rejection: str | None = None

    def count(self, outcome: Outcome) -> None:
        match outcome:
            case Outcome.STORED:
                self.stored += 1
            case Outcome.DUPLICATE:
                self.duplicates += 1
            case Outcome.REJECTED:
                self.rejected += 1
            case Outcome.OWN_EVENT:
                self.own_events += 1


class CommandInbox:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], retry_min_s: float, retry_max_s: float
    ) -> None:
        self.sessions = sessions
        self.stats = InboxStats()
        self.backoff = Backoff("storing a command request", retry_min_s, retry_max_s, log)

    async def handle(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """Decide what becomes of one message; only returns once that is durable."""
        outcome = await self._handle(body, headers)
        self.stats.count(outcome)
        return outcome

    async def _handle(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        if HEADER_EVENT_ID in headers:
            return Outcome.OWN_EVENT
        try:
            request = decode(CommandRequest, body)
        except ContractError as err:
            self.stats.last_rejection = str(err)
            log.warning(
                "rejected a command request from the bus: %s (body: %r)",
                err,
                body[:_MAX_LOGGED_BODY],
            )
            return Outcome.REJECTED
        while True:
            try:
                stored = await self._store(request)
            except (SQLAlchemyError, OSError) as err:
                await self.backoff.failed(err)
                continue
            self.backoff.succeeded()
            return Outcome.STORED if stored else Outcome.DUPLICATE

    async def _store(self, request: CommandRequest) -> bool:
        command = request.command
        row = {
            "farm_id": request.farm_id,
            "correlation_id": command.correlation_id,
            "command_id": command.command_id,
            "device_id": command.device_id,
            "state": CommandState.PENDING.value,
            "source": SOURCE_BUS,
            "command": command.model_dump(mode="json"),
            "received_at": datetime.now(UTC),
            "expires_at": command.expires_at,
        }
        async with self.sessions() as session:
            dialect = session.bind.dialect.name if session.bind else "sqlite"
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = (
                insert(CommandRecord)
                .values(row)
                .on_conflict_do_nothing(index_elements=["farm_id", "correlation_id"])
                .returning(col(CommandRecord.pk))
            )
            inserted = (await session.exec(stmt)).scalars().all()
            await session.commit()
        if inserted:
            log.info(
                "command %s for farm %s (device %s) stored",
                command.correlation_id,
                request.farm_id,
                command.device_id,
            )
        return bool(inserted)
