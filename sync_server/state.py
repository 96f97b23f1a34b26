"""What the running central server holds: settings, engine, session factory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from sync_server.settings import CentralSettings


@dataclass(frozen=True)
class CentralState:
    settings: CentralSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
