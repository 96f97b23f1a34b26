"""Small durable state (the central credential, sync bookkeeping) as JSON values."""

from __future__ import annotations

import json
from typing import Any

from appliance.store.db import Database


class KeyValue:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> Any | None:
        row = await self.db.fetch_one("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(row["value"]) if row else None

    async def put(self, key: str, value: Any) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
