"""Central's tables (SQLModel on SQLAlchemy: SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


def _utc_column(**kw: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


class ApplianceRecord(SQLModel, table=True):
    __tablename__ = "appliances"

    id: str = Field(primary_key=True, max_length=64)
    farm_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=100)
    public_key: str = Field(
        max_length=64, description="Ed25519 public key (base64) that signs its requests."
    )
    enrolled_at: datetime = _utc_column(nullable=False)
    revoked_at: datetime | None = _utc_column(nullable=True)
    last_seen_at: datetime | None = _utc_column(nullable=True)


class SeenRequestRecord(SQLModel, table=True):
    """A signed request already served; kept until its timestamp leaves the skew window.

    A second request with the same signed message is a replay and is refused.
    """

    __tablename__ = "seen_requests"
    __table_args__ = (Index("seen_requests_expiry", "expires_at"),)

    appliance_id: str = Field(primary_key=True, max_length=64)
    message_hash: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = _utc_column(nullable=False)


class EnrolmentCodeRecord(SQLModel, table=True):
    __tablename__ = "enrolment_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    farm_id: str = Field(max_length=64)
    expires_at: datetime = _utc_column(nullable=False)
    used_by: str | None = Field(default=None, max_length=64)


class EventRecord(SQLModel, table=True):
    """One event envelope; `id` is the idempotency key, `pk` the stable paging cursor."""

    __tablename__ = "events"
    __table_args__ = (Index("events_farm_pk", "farm_id", "pk"),)

    pk: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    id: UUID = Field(unique=True)
    type: str = Field(max_length=64)
    schema_version: int
    farm_id: str = Field(max_length=64)
    appliance_id: str = Field(max_length=64)
    correlation_id: str = Field(max_length=200)
    seq: int = Field(sa_column=Column(BigInteger(), nullable=False))
    occurred_at: datetime = _utc_column(nullable=False)
    received_at: datetime = _utc_column(nullable=False)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _serial_pk() -> Any:
    """An autoincrementing integer key (BIGINT on PostgreSQL, INTEGER rowid on SQLite)."""
    return Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )


class BusOutboxRecord(SQLModel, table=True):
    """An event waiting for the bus, written in the transaction that stored the event.

    The relay publishes rows in `pk` order and sets `published_at` once the broker confirmed.
    """

    __tablename__ = "bus_outbox"
    __table_args__ = (
        Index(
            "bus_outbox_pending",
            "pk",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    pk: int | None = _serial_pk()
    event_id: UUID = Field(unique=True)
    event_type: str = Field(max_length=64)
    schema_version: int
    farm_id: str = Field(max_length=64)
    topic: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False), description="Envelope JSON.")
    created_at: datetime = _utc_column(nullable=False)
    published_at: datetime | None = _utc_column(nullable=True)


class CommandState(StrEnum):
    """Where a device command is: pending at central, then as the farm reports it
    (delivered → accepted → done / failed / timed_out). States only move forward."""

    PENDING = "pending"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    DONE = "done"
    FAILED = "failed"
    TIMED_OUT = "timed_out"

    @property
    def rank(self) -> int:
        """Order of progress; the three final states share the top rank."""
        return min(list(CommandState).index(self), 3)


class CommandRecord(SQLModel, table=True):
    """A device command for a farm (from HQ over the bus), once per correlation id."""

    __tablename__ = "commands"
    __table_args__ = (
        UniqueConstraint("farm_id", "correlation_id", name="commands_farm_correlation"),
        Index("commands_farm_state_pk", "farm_id", "state", "pk"),
    )

    pk: int | None = _serial_pk()
    farm_id: str = Field(max_length=64)
    correlation_id: str = Field(max_length=200)
    command_id: UUID
    device_id: str = Field(max_length=64)
    state: str = Field(max_length=16, description="A CommandState value.")
    source: str = Field(max_length=32, description="Where the request came from, e.g. `bus`.")
    command: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = _utc_column(nullable=False)
    expires_at: datetime = _utc_column(nullable=False)
    updated_at: datetime | None = _utc_column(nullable=True)
    detail: str | None = Field(default=None, max_length=500, description="The farm's answer.")
    reported_by: str | None = Field(
        default=None, max_length=64, description="The appliance that last reported on it."
    )


class FarmDesiredRecord(SQLModel, table=True):
    """What a farm's appliances should run: configuration and model assignments.

    The farm's desired-state version is `revision` plus its newest command's `pk`, so a new
    command (from any source) or a changed config both move it forward.
    """

    __tablename__ = "farm_desired"

    farm_id: str = Field(primary_key=True, max_length=64)
    revision: int = Field(sa_column=Column(BigInteger(), nullable=False))
    config_version: int = Field(sa_column=Column(BigInteger(), nullable=False))
    config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model_assignments: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc_column(nullable=False)


class ApplianceReportRecord(SQLModel, table=True):
    """The state an appliance last reported having applied."""

    __tablename__ = "appliance_reports"

    appliance_id: str = Field(primary_key=True, max_length=64)
    farm_id: str = Field(index=True, max_length=64)
    applied_version: int = Field(sa_column=Column(BigInteger(), nullable=False))
    config_version: int = Field(sa_column=Column(BigInteger(), nullable=False))
    models: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    reported_at: datetime = _utc_column(nullable=False)


class MediaObjectRecord(SQLModel, table=True):
    """A clip or snapshot an appliance announced; `uploaded_at` is set once central verified
    the stored object's size and checksum. Linked to its incident by id, within the farm."""

    __tablename__ = "media_objects"
    __table_args__ = (Index("media_objects_farm_incident", "farm_id", "incident_id"),)

    media_id: UUID = Field(primary_key=True)
    farm_id: str = Field(max_length=64)
    appliance_id: str = Field(max_length=64)
    incident_id: UUID | None = Field(default=None)
    camera_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    content_type: str = Field(max_length=100)
    size_bytes: int = Field(sa_column=Column(BigInteger(), nullable=False))
    sha256: str = Field(max_length=64)
    object_key: str = Field(max_length=300)
    started_at: datetime = _utc_column(nullable=False)
    ended_at: datetime = _utc_column(nullable=False)
    created_at: datetime = _utc_column(nullable=False)
    uploaded_at: datetime | None = _utc_column(nullable=True)
