"""A throwaway PostgreSQL database for one run (used by the benches and the test suite)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg


@contextlib.asynccontextmanager
async def temporary_database(dsn: str, prefix: str) -> AsyncIterator[str]:
    """Create a database named `prefix` + random hex on the server of `dsn` (an asyncpg DSN
    with admin rights), yield its SQLAlchemy asyncpg URL, and drop it afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
