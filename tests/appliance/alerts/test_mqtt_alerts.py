"""MQTT alerts over the real embedded broker, heard by a siren (a provisioned device)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from appliance import keys
from appliance.alerts.settings import AlertRoute, AlertSettings, QuietHours
from appliance.incidents.settings import IncidentSettings
from contracts.devices import DeviceType
from contracts.mqtt import active_alerts_topic, alert_topic
from tests.appliance.mqtt.peers import Peer, Received
from tests.conftest import API_TOKEN, MakeAppliance, RunningAppliance, eventually

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ALERTS = "byre/alerts/#"
ACTIVE = active_alerts_topic()


def mqtt_route(**options: Any) -> AlertSettings:
    route = AlertRoute(name="siren", channel="mqtt", **options)
    return AlertSettings(routes=[route], retry_min_s=0.05, retry_max_s=0.2, max_attempts=5)


async def siren(appliance: RunningAppliance, device_id: str = "siren-1") -> Peer:
    """A siren device logged in with its own credentials, subscribed to the alert tree."""
    provisioned = await appliance.app[keys.DEVICES].provision(device_id, DeviceType.SIREN)
    peer = Peer(
        appliance.settings.mqtt.port, device_id, username=device_id, password=provisioned.secret
    )
    assert await peer.connect()
    assert await peer.subscribe(ALERTS) == 1
    return peer


async def record(client: httpx.AsyncClient, kind: str, severity: str = "critical") -> None:
    reply = await client.post(
        "/api/v1/events",
        json={
            "correlation_id": f"cam-1:{kind}:gate",
            "event": {"kind": kind, "severity": severity, "summary": f"{kind} at the gate"},
        },
        headers=AUTH,
    )
    assert reply.status_code == 201


def latest(messages: list[Received]) -> dict[str, dict[str, Any]]:
    """The last payload seen on each topic."""
    return {m.topic: json.loads(m.payload) for m in messages}


async def wait_for(peer: Peer, check: Any) -> dict[str, dict[str, Any]]:
    async def holds() -> bool:
        return bool(check(latest(list(peer.messages))))

    await eventually(holds)
    return latest(list(peer.messages))


async def test_late_subscriber_gets_retained_state_and_active_summary(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance(alerts=mqtt_route())
    dispatcher = appliance.app[keys.ALERTS]
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        await record(client, "intruder")

        async def published() -> bool:
            return dispatcher.delivered == 1

        await eventually(published)
        incident = (await client.get("/api/v1/incidents", headers=AUTH)).json()["items"][0]
    late = await siren(appliance)
    try:
        topic = alert_topic(incident["incident_id"])
        seen = await wait_for(late, lambda got: topic in got and ACTIVE in got)
    finally:
        await late.close()

    assert all(m.retain for m in late.messages)
    assert seen[topic]["type"] == "incident.opened"
    assert seen[topic]["incident"]["state"] == "open"
    assert seen[topic]["incident"]["kind"] == "intruder"
    assert seen[ACTIVE]["count"] == 1
    assert seen[ACTIVE]["incident_ids"] == [incident["incident_id"]]
    assert seen[ACTIVE]["highest_severity"] == "critical"


async def test_resolved_incident_updates_its_state_and_leaves_the_summary(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance(alerts=mqtt_route())
    listener = await siren(appliance)
    try:
        async with httpx.AsyncClient(base_url=appliance.url) as client:
            await record(client, "predator")
            await record(client, "escape", severity="warning")
            opened = await wait_for(listener, lambda got: got.get(ACTIVE, {}).get("count") == 2)
            assert opened[ACTIVE]["highest_severity"] == "critical"
            items = (await client.get("/api/v1/incidents", headers=AUTH)).json()["items"]
            predator = next(i for i in items if i["kind"] == "predator")
            reply = await client.post(
                f"/api/v1/incidents/{predator['incident_id']}/resolve",
                json={"by": "anna", "note": "dog chased off"},
                headers=AUTH,
            )
            assert reply.status_code == 200
            topic = alert_topic(predator["incident_id"])
            seen = await wait_for(
                listener, lambda got: got[topic]["incident"]["state"] == "resolved"
            )
            seen = await wait_for(listener, lambda got: got[ACTIVE]["count"] == 1)
    finally:
        await listener.close()

    assert seen[topic]["type"] == "incident.resolved"
    assert seen[topic]["incident"]["note"] == "dog chased off"
    assert predator["incident_id"] not in seen[ACTIVE]["incident_ids"]
    assert seen[ACTIVE]["highest_severity"] == "warning"


async def test_quiet_hours_keep_the_siren_silent_except_for_critical(
    make_appliance: MakeAppliance,
) -> None:
    now = datetime.now()
    quiet = QuietHours(
        start=(now - timedelta(hours=1)).time(), end=(now + timedelta(hours=1)).time()
    )
    appliance = await make_appliance(alerts=mqtt_route(quiet_hours=quiet))
    listener = await siren(appliance)
    try:
        async with httpx.AsyncClient(base_url=appliance.url) as client:
            await record(client, "escape", severity="warning")  # quiet
            await record(client, "intruder", severity="critical")  # let through
            seen = await wait_for(listener, lambda got: got.get(ACTIVE, {}).get("count") == 1)
            items = (await client.get("/api/v1/incidents", headers=AUTH)).json()["items"]
    finally:
        await listener.close()

    by_kind = {i["kind"]: i["incident_id"] for i in items}
    assert set(by_kind) == {"escape", "intruder"}
    assert set(seen) == {alert_topic(by_kind["intruder"]), ACTIVE}
    assert seen[ACTIVE]["incident_ids"] == [by_kind["intruder"]]


async def test_route_from_escalation_level_publishes_only_once_escalated(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance(
        alerts=mqtt_route(from_escalation_level=1),
        incidents=IncidentSettings(escalate_after_s=1.0, tick_s=0.1, auto_resolve_after_s=60),
    )
    listener = await siren(appliance)
    try:
        async with httpx.AsyncClient(base_url=appliance.url) as client:
            await record(client, "intruder")
            seen = await wait_for(listener, lambda got: ACTIVE in got)
    finally:
        await listener.close()

    first = json.loads(listener.messages[0].payload)
    assert first["type"] == "incident.escalated"
    assert first["incident"]["escalation_level"] == 1
    assert seen[ACTIVE]["count"] == 1


async def test_devices_may_not_publish_alerts(make_appliance: MakeAppliance) -> None:
    appliance = await make_appliance(alerts=mqtt_route())
    listener = await siren(appliance, "siren-1")
    prankster = await siren(appliance, "siren-2")
    try:
        await prankster.publish(ACTIVE, b'{"count": 99}', retain=True)
        async with httpx.AsyncClient(base_url=appliance.url) as client:
            await record(client, "intruder")
        seen = await wait_for(listener, lambda got: ACTIVE in got)
    finally:
        await prankster.close()
        await listener.close()

    assert seen[ACTIVE]["count"] == 1
    assert all(json.loads(m.payload).get("count") != 99 for m in listener.messages)
    assert appliance.app[keys.ACCESS].counters.acl_denied["publish"] >= 1
