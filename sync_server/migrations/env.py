"""Alembic environment for central: runs on a connection handed over by `upgrade`, or on
its own async engine (sqlite+aiosqlite or postgresql+asyncpg) from `sqlalchemy.url`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from sync_server import models  # noqa: F401 - registers the tables

target_metadata = SQLModel.metadata

# Replicas starting together on PostgreSQL take turns (the lock ends with the transaction).
_PG_LOCK = "SELECT pg_advisory_xact_lock(7236011)"


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text(_PG_LOCK))
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_on)
    finally:
        await engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url (e.g. alembic -x or alembic.ini) to migrate")
    asyncio.run(run_with_own_engine(url))


main()
