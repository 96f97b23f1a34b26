"""The device context of the appliance: broker, MQTT link, registry and what hangs on them.

`devices_context` is one aiohttp cleanup context: it starts the embedded broker (unless an
external one is configured), connects the appliance's MQTT link and routes device messages
to telemetry ingest; on shutdown it stops them in reverse order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from appliance import keys
from appliance.devices.automations import Automations
from appliance.devices.commands import CommandSagas
from appliance.devices.metrics import record_system_telemetry
from appliance.devices.registry import DeviceRegistry
from appliance.devices.rules import SensorRules
from appliance.devices.status import DeviceStatusTracker
from appliance.devices.telemetry import TelemetryRollups
from appliance.mqtt.access import APPLIANCE_USERNAME, AccessPolicy
from appliance.mqtt.broker import EmbeddedBroker
from appliance.mqtt.ingest import TelemetryIngest
from appliance.mqtt.link import BrokerAddress, MqttLink
from appliance.mqtt.metrics import BrokerCounters
from appliance.mqtt.settings import MqttSettings
from appliance.tasks import background
from contracts import TelemetrySample
from contracts.mqtt import DeviceTopicKind

log = logging.getLogger(__name__)


def embedded_address(settings: MqttSettings) -> tuple[str, int]:
    """Where a client on this machine reaches the embedded broker's TCP listener."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return host, settings.port


def link_address(settings: MqttSettings, policy: AccessPolicy) -> BrokerAddress:
    if settings.embedded:
        host, port = embedded_address(settings)
        return BrokerAddress(host, port, APPLIANCE_USERNAME, policy.appliance_secret)
    assert settings.broker_url is not None  # checked by the settings validator
    return BrokerAddress.from_url(
        settings.broker_url,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        cafile=settings.cafile,
    )


async def devices_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    mqtt = settings.mqtt
    db = app[keys.DATABASE]
    registry = DeviceRegistry(db)
    policy = AccessPolicy(registry, root=mqtt.root, counters=BrokerCounters())
    app[keys.DEVICES] = registry
    app[keys.ACCESS] = policy
    broker = EmbeddedBroker(mqtt, policy) if mqtt.embedded else None
    if broker is not None:
        await broker.start()
        app[keys.BROKER] = broker
    link = MqttLink(
        link_address(mqtt, policy),
        root=mqtt.root,
        client_id=f"{APPLIANCE_USERNAME}-link",
        keepalive_s=mqtt.keepalive_s,
    )
    app[keys.MQTT] = link
    status = DeviceStatusTracker(db, registry)
    app[keys.DEVICE_STATUS] = status
    ingest = TelemetryIngest(
        app[keys.EVENTS], link.ready, event_interval_s=settings.devices.telemetry_event_interval_s
    )
    app[keys.INGEST] = ingest
    sagas = CommandSagas(
        db, app[keys.EVENTS], registry, settings.devices, link.publish, root=mqtt.root
    )
    app[keys.COMMANDS] = sagas

    rules = SensorRules(app[keys.EVENTS], registry, settings.devices.rules)
    rollups = TelemetryRollups(
        db,
        minute_days=settings.devices.telemetry_minute_days,
        hour_days=settings.devices.telemetry_hour_days,
    )
    automations = Automations(app[keys.EVENTS], sagas, settings.devices.automations)
    app[keys.DEVICE_RULES] = rules
    app[keys.TELEMETRY] = rollups
    app[keys.AUTOMATIONS] = automations

    async def heard_from(sample: TelemetrySample) -> None:
        status.seen(sample.source_id, sample.at)

    ingest.listeners.extend([heard_from, rollups.on_sample, rules.on_sample])
    status.listeners.append(rules.on_availability)
    link.on(DeviceTopicKind.TELEMETRY, ingest.handle)
    link.on(DeviceTopicKind.AVAILABILITY, status.handle_availability)
    link.on(DeviceTopicKind.STATE, status.handle_state)
    link.on(DeviceTopicKind.COMMAND_ACK, sagas.handle_ack)
    try:
        async with (
            background(link.run(), "mqtt link"),
            background(sagas.run(), "command sagas"),
            background(automations.run(), "automations"),
            background(
                record_system_telemetry(app, settings.devices.system_telemetry_interval_s),
                "system telemetry",
            ),
            background(_housekeeping(status, rollups), "device housekeeping"),
        ):
            yield
        await status.flush_seen()
        await rollups.flush()
    finally:
        if broker is not None:
            await broker.stop()


async def _housekeeping(
    status: DeviceStatusTracker, rollups: TelemetryRollups, every_s: float = 5.0
) -> None:
    """Write last-seen times and telemetry rollups in batches; prune old rollups hourly."""
    failing = False
    last_prune = 0.0
    while True:
        await asyncio.sleep(every_s)
        try:
            await status.flush_seen()
            await rollups.flush()
            if time.monotonic() - last_prune > 3600:
                await rollups.prune()
                last_prune = time.monotonic()
            if failing:
                log.info("device housekeeping works again")
            failing = False
        except Exception:
            if not failing:
                log.exception("device housekeeping failed; retrying")
            failing = True
