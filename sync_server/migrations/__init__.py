"""Central's schema migrations (Alembic): `upgrade` runs them at startup.

`versions/` holds one module per revision; `0001_initial` creates the schema as it was when
migrations were introduced. A new table or column needs a new revision on top of the last.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from sync_server.errors import CentralServerError

log = logging.getLogger(__name__)

HERE = Path(__file__).parent


class MigrationError(CentralServerError):
    """The database cannot be brought to the current schema."""


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for central, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# Alembic's `context` is module state: one migration at a time per process (and event loop).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    return _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest) in one transaction."""
    async with _lock(), engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with _lock(), engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


def _run(connection: Connection, direction: str, revision: str) -> None:
    if direction == "upgrade":
        _refuse_unversioned_schema(connection)
    config = alembic_config()
    config.attributes["connection"] = connection
    if direction == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


def _refuse_unversioned_schema(connection: Connection) -> None:
    """A database with central's tables but no migration history predates migrations;
    guessing its revision could skip a change, so say what to do instead."""
    tables = set(inspect(connection).get_table_names())
    if "appliances" in tables and "alembic_version" not in tables:
        raise MigrationError(
            "the database has central's tables but no migration history (it was created "
            "before migrations); recreate it, or after checking it matches revision "
            "0001_initial run `alembic stamp 0001_initial` on it"
        )
