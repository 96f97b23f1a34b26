"""Central's Alembic migrations on SQLite and PostgreSQL: `upgrade head` on an empty database
gives exactly the tables the code declares, `downgrade base` removes them again."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from sync_server.db import create_schema, make_engine
from sync_server.migrations import (
    MigrationError,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(_differences)


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(_tables)


async def test_upgrade_head_on_an_empty_database_matches_the_declared_tables(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine)

    assert await schema_differences(engine) == []
    assert await current_revision(engine) == head_revision()
    assert await tables(engine) == set(SQLModel.metadata.tables) | {"alembic_version"}


async def test_downgrade_base_removes_every_table_and_upgrade_restores_them(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine)
    await downgrade(engine)
    after_downgrade = await tables(engine)
    revision_after_downgrade = await current_revision(engine)
    await upgrade(engine)

    assert after_downgrade == {"alembic_version"}
    assert revision_after_downgrade is None
    assert await schema_differences(engine) == []


async def test_startup_schema_step_is_repeatable(engine: AsyncEngine) -> None:
    await create_schema(engine)
    await create_schema(engine)

    assert await current_revision(engine) == head_revision()
    assert await schema_differences(engine) == []


def test_first_revision_is_the_initial_schema() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    bases = [script.get_revision(r) for r in script.get_bases()]
    assert [b.revision for b in bases if b is not None] == ["0001_initial"]


async def test_database_created_without_migrations_is_refused_with_advice(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)

    with pytest.raises(MigrationError, match="no migration history"):
        await upgrade(engine)
    assert await current_revision(engine) is None


MIGRATE = (
    "import asyncio, sys; from sync_server.db import create_schema, make_engine; "
    "asyncio.run(create_schema(make_engine(sys.argv[1])))"
)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_replicas_starting_at_once_migrate_in_turn(database_url: str) -> None:
    """Separate processes, as replicas are: PostgreSQL's advisory lock makes them take turns."""
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", MIGRATE, database_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = [await replica.communicate() for replica in replicas]
    engine = make_engine(database_url)
    try:
        differences = await schema_differences(engine)
        revision = await current_revision(engine)
    finally:
        await engine.dispose()

    assert [(r.returncode, err) for r, (_, err) in zip(replicas, results, strict=True)] == [
        (0, b"")
    ] * 3
    assert differences == []
    assert revision == head_revision()


async def test_concurrent_upgrades_in_one_process_take_turns(engine: AsyncEngine) -> None:
    await asyncio.gather(*(upgrade(engine) for _ in range(3)))

    assert await schema_differences(engine) == []
