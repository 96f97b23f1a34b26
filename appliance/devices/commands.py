"""Command sagas: requested -> sent -> accepted / done / failed, or timed_out.

A command is identified end to end by its correlation id: requesting it again returns the
same saga (nothing is sent twice by the appliance), each resend carries the same correlation
id (devices execute it once and repeat their answer), and a repeated ack changes nothing.
Every step is recorded as a `commands.*` event, so the saga syncs to central. Resends follow
the retry policy: `command_attempts` sends, the n-th one waiting `command_ack_timeout_s * 2^n`
for an answer; a command not finished by its `expires_at` times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import aiosqlite
from pydantic import JsonValue

from appliance.devices.errors import DeviceError
from appliance.devices.registry import DeviceRegistry
from appliance.devices.settings import DeviceSettings
from appliance.mqtt.link import LinkDownError
from appliance.store.db import Database
from appliance.store.events import EventStore
from contracts import CommandAck, CommandStatus, ContractError, DeviceCommand, EventType, decode
from contracts.devices import command_params
from contracts.mqtt import DeviceTopic, DeviceTopicKind, device_topic

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Any]
"""Publishes a payload on a topic at QoS 1 (awaitable); raises LinkDownError when offline."""


class SagaState(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    ACCEPTED = "accepted"
    DONE = "done"
    FAILED = "failed"
    TIMED_OUT = "timed_out"

    @property
    def finished(self) -> bool:
        return self in (SagaState.DONE, SagaState.FAILED, SagaState.TIMED_OUT)


_ACK_STATE = {
    CommandStatus.ACCEPTED: SagaState.ACCEPTED,
    CommandStatus.DONE: SagaState.DONE,
    CommandStatus.FAILED: SagaState.FAILED,
}
_WAITING = (SagaState.REQUESTED.value, SagaState.SENT.value, SagaState.ACCEPTED.value)


class CommandRefusedError(DeviceError):
    """The command cannot be requested (revoked device, correlation id of another command)."""


@dataclass(frozen=True)
class Saga:
    correlation_id: str
    device_id: str
    action: str
    params: dict[str, JsonValue]
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    state: SagaState
    attempts: int
    next_attempt_at: datetime
    command_id: uuid.UUID | None
    detail: str | None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Saga:
        return cls(
            correlation_id=row["correlation_id"],
            device_id=row["device_id"],
            action=row["action"],
            params=json.loads(row["params"]),
            requested_by=row["requested_by"],
            requested_at=datetime.fromisoformat(row["requested_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
            state=SagaState(row["state"]),
            attempts=row["attempts"],
            next_attempt_at=datetime.fromisoformat(row["next_attempt_at"]),
            command_id=uuid.UUID(row["command_id"]) if row["command_id"] else None,
            detail=row["detail"],
        )

    def command(self, command_id: uuid.UUID) -> DeviceCommand:
        return DeviceCommand(
            command_id=command_id,
            correlation_id=self.correlation_id,
            device_id=self.device_id,
            action=self.action,
            params=self.params,
            requested_at=self.requested_at,
            expires_at=self.expires_at,
            requested_by=self.requested_by,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "correlation_id": self.correlation_id,
            "device_id": self.device_id,
            "action": self.action,
            "params": self.params,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "state": self.state.value,
            "attempts": self.attempts,
            "detail": self.detail,
        }


class CommandSagas:
    """Requests, sends, resends and settles device commands."""

    def __init__(
        self,
        db: Database,
        events: EventStore,
        registry: DeviceRegistry,
        settings: DeviceSettings,
        publish: Publish,
        *,
        root: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.events = events
        self.registry = registry
        self.settings = settings
        self.publish = publish
        self.root = root
        self.clock = clock
        self.rejected: Counter[str] = Counter()
        self._wake = asyncio.Event()

    async def request(
        self,
        device_id: str,
        action: str,
        params: dict[str, JsonValue],
        *,
        requested_by: str,
        correlation_id: str | None = None,
    ) -> tuple[Saga, bool]:
        """Start a saga; returns it and whether it is new (False: same correlation id seen)."""
        if correlation_id is not None:
            existing = await self.get(correlation_id)
            if existing is not None:
                return self._same_command(existing, device_id, action), False
        device = await self.registry.require(device_id)
        if not device.active:
            raise CommandRefusedError(f"device {device_id!r} is revoked")
        params = command_params(device.device_type, action, params)
        now = self.clock()
        correlation_id = correlation_id or f"cmd:{device_id}:{action}:{uuid.uuid4().hex[:12]}"
        saga = Saga(
            correlation_id=correlation_id,
            device_id=device_id,
            action=action,
            params=params,
            requested_by=requested_by,
            requested_at=now,
            expires_at=now + timedelta(seconds=self.settings.command_ttl_s),
            state=SagaState.REQUESTED,
            attempts=0,
            next_attempt_at=now,
            command_id=None,
            detail=None,
        )
        saga.command(uuid.uuid4())  # validates the whole command before anything is stored
        try:
            async with self.db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO commands (correlation_id, device_id, action, params,"
                    " requested_by, requested_at, expires_at, state, next_attempt_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        saga.correlation_id,
                        device_id,
                        action,
                        json.dumps(params),
                        requested_by,
                        now.isoformat(),
                        saga.expires_at.isoformat(),
                        saga.state.value,
                        now.isoformat(),
                        now.isoformat(),
                    ),
                )
        except sqlite3.IntegrityError:  # the same correlation id requested concurrently
            existing = await self.get(correlation_id)
            assert existing is not None
            return self._same_command(existing, device_id, action), False
        await self.events.record(
            EventType.COMMAND_REQUESTED,
            saga.command(uuid.uuid4()),
            correlation_id=correlation_id,
            occurred_at=now,
        )
        self._wake.set()
        return saga, True

    def _same_command(self, saga: Saga, device_id: str, action: str) -> Saga:
        if (saga.device_id, saga.action) != (device_id, action):
            raise CommandRefusedError(
                f"correlation id {saga.correlation_id!r} belongs to another command"
            )
        return saga

    async def get(self, correlation_id: str) -> Saga | None:
        row = await self.db.fetch_one(
            "SELECT * FROM commands WHERE correlation_id = ?", (correlation_id,)
        )
        return Saga.from_row(row) if row else None

    async def for_device(self, device_id: str, limit: int = 50) -> list[Saga]:
        rows = await self.db.fetch_all(
            "SELECT * FROM commands WHERE device_id = ? ORDER BY requested_at DESC LIMIT ?",
            (device_id, limit),
        )
        return [Saga.from_row(r) for r in rows]

    async def handle_ack(self, topic: DeviceTopic, data: bytes, retain: bool) -> None:
        """A device's answer on its ack topic."""
        try:
            ack = decode(CommandAck, data)
            if ack.device_id != topic.device_id:
                raise ContractError("does not match the topic's device", field="device_id")
        except ContractError as err:
            self.rejected[err.field or "payload"] += 1
            return
        saga = await self.get(ack.correlation_id)
        if saga is None or saga.device_id != ack.device_id:
            self.rejected["unknown_command"] += 1
            return
        new_state = _ACK_STATE[ack.status]
        if saga.state.finished or saga.state == new_state:
            return  # a repeated answer, or one after the saga ended
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE commands SET state = ?, detail = ?, updated_at = ?"
                " WHERE correlation_id = ? AND state = ?",
                (
                    new_state.value,
                    ack.detail,
                    now.isoformat(),
                    saga.correlation_id,
                    saga.state.value,
                ),
            )
            if cursor.rowcount == 0:
                return  # changed meanwhile; the other change wins
        await self.events.record(
            EventType.COMMAND_ACKNOWLEDGED,
            ack.model_copy(update={"at": ack.at or now}),
            correlation_id=saga.correlation_id,
            occurred_at=now,
        )
        log.info("command %s on %s: %s", saga.action, saga.device_id, ack.status.value)

    async def run(self) -> None:
        """Send due commands and time out late ones, until cancelled."""
        failing = False
        while True:
            try:
                next_due = await self.step()
                if failing:
                    log.info("command sagas running again")
                failing = False
            except Exception:  # keep the loop alive; the store may recover
                if not failing:
                    log.exception("command sagas failed; retrying")
                failing = True
                next_due = 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(next_due, 1.0)):
                    await self._wake.wait()

    async def step(self) -> float:
        """Process every due saga; returns seconds until the next one is due."""
        now = self.clock()
        placeholders = ", ".join("?" * len(_WAITING))
        rows = await self.db.fetch_all(
            f"SELECT * FROM commands WHERE state IN ({placeholders})"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 100",
            (*_WAITING, now.isoformat()),
        )
        for row in rows:
            await self._advance(Saga.from_row(row), now)
        upcoming = await self.db.fetch_one(
            f"SELECT MIN(next_attempt_at) AS due FROM commands WHERE state IN ({placeholders})",
            _WAITING,
        )
        if upcoming is None or upcoming["due"] is None:
            return 60.0
        return max((datetime.fromisoformat(upcoming["due"]) - self.clock()).total_seconds(), 0)

    async def _advance(self, saga: Saga, now: datetime) -> None:
        out_of_attempts = saga.attempts >= self.settings.command_attempts
        if now >= saga.expires_at or (saga.state != SagaState.ACCEPTED and out_of_attempts):
            await self._time_out(saga, now)
        elif saga.state == SagaState.ACCEPTED:
            await self._reschedule(saga, saga.expires_at)
        else:
            await self._send(saga, now)

    async def _send(self, saga: Saga, now: datetime) -> None:
        command = saga.command(uuid.uuid4())
        topic = device_topic(saga.device_id, DeviceTopicKind.COMMAND, root=self.root)
        try:
            await self.publish(topic, command.model_dump_json().encode())
        except LinkDownError:
            await self._reschedule(saga, now + timedelta(seconds=1))
            return
        wait = self.settings.command_ack_timeout_s * 2**saga.attempts
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE commands SET state = CASE WHEN state = 'requested' THEN 'sent'"
                " ELSE state END, attempts = attempts + 1, next_attempt_at = ?,"
                " command_id = ?, updated_at = ? WHERE correlation_id = ?",
                (
                    min(now + timedelta(seconds=wait), saga.expires_at).isoformat(),
                    str(command.command_id),
                    now.isoformat(),
                    saga.correlation_id,
                ),
            )
        await self.events.record(
            EventType.COMMAND_SENT, command, correlation_id=saga.correlation_id, occurred_at=now
        )

    async def _time_out(self, saga: Saga, now: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE commands SET state = 'timed_out', updated_at = ? WHERE correlation_id = ?",
                (now.isoformat(), saga.correlation_id),
            )
        await self.events.record(
            EventType.COMMAND_TIMED_OUT,
            saga.command(saga.command_id or uuid.uuid4()),
            correlation_id=saga.correlation_id,
            occurred_at=now,
        )
        log.warning("command %s on %s timed out", saga.action, saga.device_id)

    async def _reschedule(self, saga: Saga, when: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE commands SET next_attempt_at = ? WHERE correlation_id = ?",
                (when.isoformat(), saga.correlation_id),
            )
