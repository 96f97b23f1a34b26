"""Central's schema when migrations were introduced: appliances and their credentials,
replay protection, enrolment codes, events, the bus outbox, device commands, desired state
per farm and the state appliances report.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _serial_pk() -> sa.Column[int]:
    """BIGINT on PostgreSQL, the INTEGER rowid on SQLite."""
    return sa.Column(
        "pk",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
        nullable=False,
    )


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "appliances",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("farm_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        _time("enrolled_at"),
        _time("revoked_at", nullable=True),
        _time("last_seen_at", nullable=True),
    )
    op.create_index("ix_appliances_farm_id", "appliances", ["farm_id"])

    op.create_table(
        "seen_requests",
        sa.Column("appliance_id", sa.String(64), primary_key=True),
        sa.Column("message_hash", sa.String(64), primary_key=True),
        _time("expires_at"),
    )
    op.create_index("seen_requests_expiry", "seen_requests", ["expires_at"])

    op.create_table(
        "enrolment_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("farm_id", sa.String(64), nullable=False),
        _time("expires_at"),
        sa.Column("used_by", sa.String(64), nullable=True),
    )

    op.create_table(
        "events",
        _serial_pk(),
        sa.Column("id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("farm_id", sa.String(64), nullable=False),
        sa.Column("appliance_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _time("occurred_at"),
        _time("received_at"),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("events_farm_pk", "events", ["farm_id", "pk"])

    op.create_table(
        "bus_outbox",
        _serial_pk(),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("farm_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _time("created_at"),
        _time("published_at", nullable=True),
    )
    op.create_index(
        "bus_outbox_pending",
        "bus_outbox",
        ["pk"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )

    op.create_table(
        "commands",
        _serial_pk(),
        sa.Column("farm_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(200), nullable=False),
        sa.Column("command_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("command", sa.JSON(), nullable=False),
        _time("received_at"),
        _time("expires_at"),
        _time("updated_at", nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.Column("reported_by", sa.String(64), nullable=True),
        sa.UniqueConstraint("farm_id", "correlation_id", name="commands_farm_correlation"),
    )
    op.create_index("commands_farm_state_pk", "commands", ["farm_id", "state", "pk"])

    op.create_table(
        "farm_desired",
        sa.Column("farm_id", sa.String(64), primary_key=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("model_assignments", sa.JSON(), nullable=False),
        _time("updated_at"),
    )

    op.create_table(
        "appliance_reports",
        sa.Column("appliance_id", sa.String(64), primary_key=True),
        sa.Column("farm_id", sa.String(64), nullable=False),
        sa.Column("applied_version", sa.BigInteger(), nullable=False),
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        _time("reported_at"),
    )
    op.create_index("ix_appliance_reports_farm_id", "appliance_reports", ["farm_id"])


def downgrade() -> None:
    for table in (
        "appliance_reports",
        "farm_desired",
        "commands",
        "bus_outbox",
        "events",
        "enrolment_codes",
        "seen_requests",
        "appliances",
    ):
        op.drop_table(table)
