"""Prometheus metrics of the appliance (text exposition format 0.0.4) and system telemetry.

Counters come from the broker, the MQTT link and the device context; gauges are read from
the store and the operating system when scraped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import psutil
from aiohttp import web

from appliance import keys
from contracts import EventType, TelemetrySample

log = logging.getLogger(__name__)

Sample = tuple[str, Mapping[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(families: Iterable[tuple[str, str, str, list[Sample]]]) -> str:
    """Text format: HELP and TYPE lines, then one line per sample."""
    lines: list[str] = []
    for name, kind, help_text, samples in families:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for sample_name, labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(
                f"{sample_name}{{{label_text}}} {value}" if labels else f"{sample_name} {value}"
            )
    return "\n".join(lines) + "\n"


def _counter(name: str, help_text: str, value: float) -> tuple[str, str, str, list[Sample]]:
    return (name, "counter", help_text, [(f"{name}_total", {}, value)])


def _labelled(
    name: str, kind: str, help_text: str, label: str, values: Mapping[str, float]
) -> tuple[str, str, str, list[Sample]]:
    suffix = "_total" if kind == "counter" else ""
    return (
        name,
        kind,
        help_text,
        [(f"{name}{suffix}", {label: key}, float(v)) for key, v in sorted(values.items())],
    )


def _gauge(name: str, help_text: str, value: float) -> tuple[str, str, str, list[Sample]]:
    return (name, "gauge", help_text, [(name, {}, value)])


def system_readings(data_dir: Path) -> dict[str, float]:
    """CPU, memory, disk and (where the board reports it) temperature."""
    memory = psutil.virtual_memory()
    values = {
        "cpu_pct": psutil.cpu_percent(interval=None),
        "memory_pct": memory.percent,
        "memory_available_bytes": float(memory.available),
        "load1": os.getloadavg()[0],
    }
    try:
        disk = psutil.disk_usage(str(data_dir))
        values["disk_free_bytes"] = float(disk.free)
        values["disk_used_pct"] = disk.percent
    except OSError:
        pass
    sensors_temperatures = getattr(psutil, "sensors_temperatures", None)
    temperatures: dict[str, list[object]] = sensors_temperatures() if sensors_temperatures else {}
    readings = [
        float(getattr(t, "current", 0.0))
        for sensors in temperatures.values()
        for t in sensors
        if getattr(t, "current", None)
    ]
    if readings:
        values["temperature_c"] = max(readings)
    return values


async def metrics_text(app: web.Application) -> str:
    families = []
    access = app.get(keys.ACCESS)
    if access is not None:
        c = access.counters
        families += [
            _labelled(
                "byre_mqtt_auth_failures",
                "counter",
                "Refused MQTT logins.",
                "reason",
                c.auth_failures,
            ),
            _labelled(
                "byre_mqtt_acl_denied", "counter", "Topic ACL refusals.", "action", c.acl_denied
            ),
            _counter(
                "byre_mqtt_oversized_packets",
                "Connections closed for an oversized packet.",
                c.oversized_packets,
            ),
            _counter(
                "byre_mqtt_malformed_connects",
                "Connections without a valid CONNECT.",
                c.malformed_connects,
            ),
            _counter(
                "byre_mqtt_keepalive_expired",
                "Clients dropped after their keepalive.",
                c.keepalive_expired,
            ),
            _counter(
                "byre_mqtt_queue_overflow",
                "Queued messages dropped for offline sessions.",
                c.queue_overflow,
            ),
            _counter("byre_mqtt_connections", "Accepted MQTT connections.", c.connections),
        ]
    broker = app.get(keys.BROKER)
    if broker is not None:
        families.append(
            _gauge(
                "byre_mqtt_connected_clients", "Clients connected now.", broker.connected_clients()
            )
        )
    link = app.get(keys.MQTT)
    if link is not None:
        families += [
            _counter(
                "byre_mqtt_link_messages", "Device messages the appliance received.", link.received
            ),
            _gauge(
                "byre_mqtt_link_up",
                "1 while the appliance is connected to the broker.",
                1.0 if link.ready.is_set() else 0.0,
            ),
        ]
    rejected: dict[str, float] = {}
    for stage, key in (
        ("link", keys.MQTT),
        ("telemetry", keys.INGEST),
        ("status", keys.DEVICE_STATUS),
        ("commands", keys.COMMANDS),
    ):
        component = app.get(key)
        if component is not None:
            for field, count in component.rejected.items():
                rejected[f"{stage}:{field}"] = float(count)
    families.append(
        _labelled(
            "byre_device_messages_rejected",
            "counter",
            "Device messages dropped as invalid (stage:field).",
            "reason",
            rejected,
        )
    )
    ingest = app.get(keys.INGEST)
    if ingest is not None:
        families += [
            _counter(
                "byre_telemetry_samples", "Valid telemetry samples received.", ingest.accepted
            ),
            _counter(
                "byre_telemetry_events",
                "Telemetry samples recorded as synced events.",
                ingest.recorded,
            ),
        ]
    rules = app.get(keys.DEVICE_RULES)
    if rules is not None:
        families.append(
            _counter(
                "byre_device_farm_events", "Farm events raised by sensor rules.", rules.recorded
            )
        )
    automations = app.get(keys.AUTOMATIONS)
    if automations is not None:
        families += [
            _counter(
                "byre_automation_commands", "Commands requested by automations.", automations.fired
            ),
            _counter(
                "byre_automation_errors",
                "Automation commands that could not be requested.",
                sum(automations.errors.values()),
            ),
        ]
    db = app[keys.DATABASE]
    availability = {
        r["availability"]: r["n"]
        for r in await db.fetch_all(
            "SELECT availability, COUNT(*) AS n FROM device_status GROUP BY availability"
        )
    }
    commands = {
        r["state"]: r["n"]
        for r in await db.fetch_all("SELECT state, COUNT(*) AS n FROM commands GROUP BY state")
    }
    outbox = await app[keys.EVENTS].counts()
    families += [
        _labelled(
            "byre_devices",
            "gauge",
            "Provisioned devices by availability.",
            "availability",
            availability,
        ),
        _labelled("byre_commands", "gauge", "Command sagas by state.", "state", commands),
        _labelled(
            "byre_outbox_events",
            "gauge",
            "Events in the sync outbox by state.",
            "state",
            {k: v for k, v in outbox.items() if k != "recorded"},
        ),
        _gauge(
            "byre_event_hub_dropped",
            "Events dropped by slow in-process subscribers.",
            float(app[keys.EVENTS].hub.dropped),
        ),
    ]
    system = await asyncio.to_thread(system_readings, app[keys.SETTINGS].data_dir)
    families += [
        _gauge(f"byre_system_{name}", f"Appliance {name.replace('_', ' ')}.", value)
        for name, value in sorted(system.items())
    ]
    return render(families)


def appliance_source_id(name: str) -> str:
    """The appliance's name made safe as a telemetry source id."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", name).strip("-_")[:64]
    return cleaned or "appliance"


async def record_system_telemetry(app: web.Application, every_s: float = 60.0) -> None:
    """Record a `telemetry.system` event every `every_s` seconds, until cancelled."""
    source = appliance_source_id(app[keys.SETTINGS].name)
    failing = False
    while True:
        await asyncio.sleep(every_s)
        try:
            values = await asyncio.to_thread(system_readings, app[keys.SETTINGS].data_dir)
            values["outbox_pending"] = float((await app[keys.EVENTS].counts())["pending"])
            sample = TelemetrySample(source_id=source, values=values, at=datetime.now(UTC))
            await app[keys.EVENTS].record(
                EventType.TELEMETRY_SYSTEM,
                sample,
                correlation_id=f"telemetry:{source}",
                occurred_at=sample.at,
            )
            failing = False
        except Exception:
            if not failing:
                log.exception("system telemetry failed; retrying")
            failing = True
