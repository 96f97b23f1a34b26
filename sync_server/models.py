"""Central's tables (SQLModel on SQLAlchemy: SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer
from sqlmodel import Field, SQLModel


def _utc_column(**kw: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


class ApplianceRecord(SQLModel, table=True):
    __tablename__ = "appliances"

    id: str = Field(primary_key=True, max_length=64)
    farm_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=100)
    token_hash: str = Field(unique=True, max_length=64)
    enrolled_at: datetime = _utc_column(nullable=False)
    revoked_at: datetime | None = _utc_column(nullable=True)


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
