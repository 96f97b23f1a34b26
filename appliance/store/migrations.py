"""Versioned schema migrations, tracked by `PRAGMA user_version`."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: events with their outbox rows, and a key-value table for small state
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX events_correlation ON events (correlation_id);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY REFERENCES events (seq),
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'parked')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_at TEXT
    );
    CREATE INDEX outbox_pending ON outbox (state, seq);
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
]
