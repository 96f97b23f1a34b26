"""One message for the bus: an outbox row's envelope JSON plus its routing and headers."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from contracts.bus import (
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_FARM_ID,
    HEADER_SCHEMA_VERSION,
)
from sync_server.models import BusOutboxRecord


@dataclass(frozen=True)
class BusMessage:
    event_id: UUID
    event_type: str
    farm_id: str
    schema_version: int
    topic: str
    """The bus topic from the contracts; each bus may prefix it."""
    body: bytes
    """The full `EventEnvelope` as JSON: consumers deduplicate by its `id`."""

    @property
    def key(self) -> str:
        """Partition key: the farm, so each farm's events keep their order (see topics)."""
        return self.farm_id

    def headers(self) -> dict[str, str]:
        return {
            HEADER_EVENT_ID: str(self.event_id),
            HEADER_EVENT_TYPE: self.event_type,
            HEADER_FARM_ID: self.farm_id,
            HEADER_SCHEMA_VERSION: str(self.schema_version),
        }

    @classmethod
    def of(cls, row: BusOutboxRecord) -> BusMessage:
        return cls(
            event_id=row.event_id,
            event_type=row.event_type,
            farm_id=row.farm_id,
            schema_version=row.schema_version,
            topic=row.topic,
            body=row.body.encode(),
        )
