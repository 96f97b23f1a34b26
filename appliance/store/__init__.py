"""The appliance's local store: SQLite in WAL mode, the farm's single source of truth."""

from appliance.store.db import Database
from appliance.store.events import EventStore, OutboxRow, StoredEvent

__all__ = ["Database", "EventStore", "OutboxRow", "StoredEvent"]
