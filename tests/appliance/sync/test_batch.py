"""The sync request body written from stored rows is what the envelope model would write."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from appliance.store import Database, EventStore
from appliance.sync.batch import batch_body
from appliance.sync.identity import Identity, new_private_key, private_key_text
from appliance.sync.queue import next_batch
from contracts import (
    EventEnvelope,
    EventType,
    FarmEvent,
    FarmEventKind,
    Severity,
    SyncBatchRequest,
    TelemetrySample,
    decode,
    new_id,
)

ESCAPE = FarmEvent(kind=FarmEventKind.ESCAPE, severity=Severity.WARNING, summary='Kuh "Berta" ü')
IDENTITY = Identity("http://central", "ap-1", "farm-1", private_key_text(new_private_key()))


async def test_body_matches_the_envelope_models_json(store: tuple[Database, EventStore]) -> None:
    _, events = store
    recorded = [
        await events.record(
            EventType.FARM_EVENT,
            ESCAPE,
            correlation_id="cam-1:escape:ü",
            occurred_at=datetime(2026, 5, 1, 12, 0, tzinfo=UTC),  # no microseconds
        ),
        await events.record(
            EventType.TELEMETRY_DEVICE,
            TelemetrySample(source_id="sensor-1", values={"temperature_c": 21.5, "n": 3}),
            correlation_id="sensor-1",
        ),
    ]
    batch_id = new_id()

    body = batch_body(batch_id, IDENTITY, await next_batch(events, 10))

    expected = SyncBatchRequest(
        batch_id=batch_id,
        appliance_id="ap-1",
        events=[
            EventEnvelope(
                id=e.id,
                type=e.type,
                farm_id="farm-1",
                appliance_id="ap-1",
                correlation_id=e.correlation_id,
                seq=e.seq,
                occurred_at=e.occurred_at,
                payload=e.payload,
            ).model_dump(mode="json")
            for e in recorded
        ],
    )
    assert json.loads(body) == expected.model_dump(mode="json")
    parsed = decode(SyncBatchRequest, body)
    assert [decode(EventEnvelope, raw).id for raw in parsed.events] == [e.id for e in recorded]
