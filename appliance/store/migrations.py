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
    # 3: devices (secrets only as scrypt hashes), their status, command sagas, telemetry rollups
    """
    CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        device_type TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        secret_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        secret_set_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE device_status (
        device_id TEXT PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
        availability TEXT NOT NULL DEFAULT 'unknown',
        availability_at TEXT,
        state TEXT,
        state_at TEXT,
        last_seen_at TEXT
    );
    CREATE TABLE commands (
        correlation_id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices (device_id),
        action TEXT NOT NULL,
        params TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN
            ('requested', 'sent', 'accepted', 'done', 'failed', 'timed_out')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        command_id TEXT,
        detail TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX commands_due ON commands (state, next_attempt_at);
    CREATE INDEX commands_device ON commands (device_id, requested_at);
    CREATE TABLE telemetry_rollups (
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        bucket_s INTEGER NOT NULL,
        bucket_start TEXT NOT NULL,
        count INTEGER NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        sum REAL NOT NULL,
        last REAL NOT NULL,
        PRIMARY KEY (device_id, name, bucket_s, bucket_start)
    );
    CREATE INDEX telemetry_rollups_time ON telemetry_rollups (bucket_s, bucket_start);
    """,
    # 4: local users, sessions and login throttling of the web UI (owner: web UI auth)
    """
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('farmer', 'technician')),
        password_hash TEXT NOT NULL,
        language TEXT,
        created_at TEXT NOT NULL,
        disabled_at TEXT
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
    );
    CREATE INDEX sessions_user ON sessions (username);
    """,
    # 5: media files (clips, snapshots) of incidents, and their upload to central (owner: media)
    """
    CREATE TABLE media (
        media_id TEXT PRIMARY KEY,
        incident_id TEXT,
        camera_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('clip', 'snapshot')),
        content_type TEXT NOT NULL,
        path TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('recording', 'ready', 'failed', 'evicted')),
        size_bytes INTEGER,
        sha256 TEXT,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        created_at TEXT NOT NULL,
        uploaded_at TEXT,
        upload_attempts INTEGER NOT NULL DEFAULT 0,
        upload_error TEXT
    );
    CREATE INDEX media_incident ON media (incident_id);
    CREATE INDEX media_upload ON media (state, uploaded_at, created_at);
    CREATE INDEX media_age ON media (created_at);
    """,
    # 6: why a media file failed (encoder error, cut off by a stop) (owner: media)
    """
    ALTER TABLE media ADD COLUMN error TEXT;
    """,
]
