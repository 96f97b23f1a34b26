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
    # 2: incidents (case state per correlation id) for the incident engine
    """
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        correlation_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        title TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        occurrences INTEGER NOT NULL DEFAULT 1,
        escalation_level INTEGER NOT NULL DEFAULT 0,
        acknowledged_by TEXT,
        resolved_at TEXT,
        note TEXT,
        camera_id TEXT,
        device_id TEXT,
        zone TEXT,
        first_event_seq INTEGER NOT NULL REFERENCES events (seq)
    );
    CREATE UNIQUE INDEX incidents_one_active ON incidents (correlation_id)
        WHERE state != 'resolved';
    CREATE INDEX incidents_state ON incidents (state, opened_at);
    CREATE INDEX incidents_correlation ON incidents (correlation_id, resolved_at);
    """,
]
