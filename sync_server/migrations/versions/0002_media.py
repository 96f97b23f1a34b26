"""Media objects: clips and snapshots appliances upload, linked to incidents by id.

Revision ID: 0002_media
Revises: 0001_initial
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_media"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "media_objects",
        sa.Column("media_id", sa.Uuid(), primary_key=True),
        sa.Column("farm_id", sa.String(64), nullable=False),
        sa.Column("appliance_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("object_key", sa.String(300), nullable=False),
        _time("started_at"),
        _time("ended_at"),
        _time("created_at"),
        _time("uploaded_at", nullable=True),
    )
    op.create_index("media_objects_farm_incident", "media_objects", ["farm_id", "incident_id"])


def downgrade() -> None:
    op.drop_table("media_objects")
