"""Automations: a farm event that matches a rule becomes device commands (sagas).

Heat stress -> fans on; an intruder at night -> floodlight and siren. Each command's
correlation id is `rule:<name>:<device>:<event id>`, so an event seen twice commands once;
`requested_by` is `rule:<name>`, so the `commands.*` events show which rule acted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime

from appliance.devices.commands import CommandSagas
from appliance.devices.errors import DeviceError
from appliance.devices.settings import Automation
from appliance.store.events import EventStore, StoredEvent
from contracts import ContractError, EventType, FarmEvent

log = logging.getLogger(__name__)

_RANK = {"info": 1, "warning": 2, "critical": 3}


def matches(rule: Automation, event: FarmEvent, local_hour: int) -> bool:
    if event.kind != rule.when or _RANK[event.severity.value] < _RANK[rule.min_severity.value]:
        return False
    source = event.device_id or event.camera_id
    if rule.sources and source not in rule.sources:
        return False
    if rule.zones and event.zone not in rule.zones:
        return False
    if rule.hours is not None:
        start, end = rule.hours
        inside = start <= local_hour < end if start <= end else not end <= local_hour < start
        if not inside:
            return False
    return True


class Automations:
    def __init__(self, events: EventStore, sagas: CommandSagas, rules: list[Automation]) -> None:
        self.events = events
        self.sagas = sagas
        self.rules = rules
        self.fired = 0
        self.errors: Counter[str] = Counter()
        self._last: dict[tuple[str, str], float] = {}

    async def run(self) -> None:
        """Act on farm events as they are committed, until cancelled."""
        if not self.rules:
            return
        async with self.events.hub.subscribe() as queue:
            while True:
                event = await queue.get()
                if event.type == EventType.FARM_EVENT:
                    await self.handle(event)

    async def handle(self, stored: StoredEvent) -> None:
        event = FarmEvent.model_validate(stored.payload)
        hour = stored.occurred_at.astimezone(datetime.now().astimezone().tzinfo).hour
        for rule in self.rules:
            if not matches(rule, event, hour) or self._cooling(rule, stored.correlation_id):
                continue
            for step in rule.then:
                try:
                    await self.sagas.request(
                        step.device_id,
                        step.action,
                        step.params,
                        requested_by=f"rule:{rule.name}",
                        correlation_id=f"rule:{rule.name}:{step.device_id}:{stored.id}",
                    )
                except (ContractError, DeviceError) as err:
                    self.errors[rule.name] += 1
                    log.warning(
                        "automation %s cannot command %s: %s", rule.name, step.device_id, err
                    )
                else:
                    self.fired += 1

    def _cooling(self, rule: Automation, case: str) -> bool:
        now = time.monotonic()
        last = self._last.get((rule.name, case))
        if last is not None and now - last < rule.cooldown_s:
            return True
        self._last[(rule.name, case)] = now
        return False
