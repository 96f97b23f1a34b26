"""A scripted source of farm events: the demo's stand-in for analyzers."""

from __future__ import annotations

import asyncio
import itertools
import logging

from appliance.store.events import EventStore
from contracts import EventType, FarmEvent, FarmEventKind, Severity

log = logging.getLogger(__name__)

SCRIPT: list[FarmEvent] = [
    FarmEvent(
        kind=FarmEventKind.INTRUDER,
        severity=Severity.CRITICAL,
        summary="Person in the calving pen at night",
        camera_id="barn-east",
        zone="calving-pen",
        track_id=7,
        labels=["person"],
    ),
    FarmEvent(
        kind=FarmEventKind.PREDATOR,
        severity=Severity.CRITICAL,
        summary="Dog approaching the sheep",
        camera_id="pasture-north",
        zone="pasture",
        track_id=12,
        labels=["dog", "sheep"],
    ),
    FarmEvent(
        kind=FarmEventKind.ESCAPE,
        severity=Severity.WARNING,
        summary="Cow left the north pen",
        camera_id="pasture-north",
        zone="north-pen",
        track_id=3,
        labels=["cow"],
    ),
    FarmEvent(
        kind=FarmEventKind.WATER_LOW,
        severity=Severity.WARNING,
        summary="Trough 2 below 20 %",
        device_id="trough-2",
        attributes={"level_pct": 18.5},
    ),
]


async def run_scripted_source(events: EventStore, interval_s: float) -> None:
    """Record the script's events in a loop, one every `interval_s` seconds."""
    for n, event in enumerate(itertools.cycle(SCRIPT)):
        correlation = f"{event.camera_id or event.device_id}:{event.kind.value}:{event.zone or '-'}"
        await events.record(EventType.FARM_EVENT, event, correlation_id=correlation)
        log.debug("scripted event %d: %s", n, event.summary)
        await asyncio.sleep(interval_s)
