"""Local alerting over real HTTP: webhooks (HMAC, retries, escalation chain) and SSE push."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from appliance.alerts.settings import AlertRoute, AlertSettings, QuietHours
from appliance.alerts.webhook import signature
from appliance.incidents.settings import IncidentSettings
from contracts import FarmEventKind, Severity
from tests.conftest import API_TOKEN, MakeAppliance, eventually, free_port

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SECRET = "lan-gateway-secret"


@dataclass
class Gateway:
    """A LAN gateway (SMS modem and the like) on loopback that fails its first calls."""

    url: str
    failures_left: int = 0
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def delivered(self) -> list[dict[str, Any]]:
        return [json.loads(body) for headers, body in self.calls if "ok" in headers]


@pytest.fixture
async def make_gateway() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def make(failures: int = 0) -> Gateway:
        gateway = Gateway(url="")
        gateway.failures_left = failures

        async def receive(request: web.Request) -> web.Response:
            headers = dict(request.headers)
            body = await request.read()
            if gateway.failures_left > 0:
                gateway.failures_left -= 1
                gateway.calls.append((headers, body))
                return web.Response(status=503)
            gateway.calls.append((headers | {"ok": "1"}, body))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/sms", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        gateway.url = f"http://127.0.0.1:{port}/sms"
        return gateway

    yield make
    for runner in runners:
        await runner.cleanup()


def fast_alerts(*routes: AlertRoute) -> AlertSettings:
    return AlertSettings(routes=list(routes), retry_min_s=0.05, retry_max_s=0.2, max_attempts=5)


async def record(
    client: httpx.AsyncClient, kind: str = "intruder", severity: str = "critical"
) -> None:
    reply = await client.post(
        "/api/v1/events",
        json={
            "correlation_id": f"cam-1:{kind}:gate",
            "event": {"kind": kind, "severity": severity, "summary": f"{kind} at the gate"},
        },
        headers=AUTH,
    )
    assert reply.status_code == 201


async def test_webhook_is_signed_and_retried_until_delivered(
    make_appliance: MakeAppliance, make_gateway: Any
) -> None:
    gateway = await make_gateway(failures=2)
    route = AlertRoute(name="sms", channel="webhook", url=gateway.url, secret=SecretStr(SECRET))
    appliance = await make_appliance(alerts=fast_alerts(route))
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        await record(client)

        async def arrived() -> bool:
            return len(gateway.delivered()) == 1

        await eventually(arrived)

    headers, body = gateway.calls[-1]
    assert len(gateway.calls) == 3
    assert headers["X-Byre-Signature"] == signature(SECRET, headers["X-Byre-Timestamp"], body)
    assert {h["X-Byre-Event-Id"] for h, _ in gateway.calls} == {headers["X-Byre-Event-Id"]}
    payload = json.loads(body)
    assert payload["type"] == "incident.opened"
    assert payload["incident"]["kind"] == "intruder"


async def test_escalation_chain_reaches_the_next_route_only_when_unacknowledged(
    make_appliance: MakeAppliance, make_gateway: Any
) -> None:
    ui_gateway, sms_gateway = await make_gateway(), await make_gateway()
    routes = (
        AlertRoute(name="siren", channel="webhook", url=ui_gateway.url),
        AlertRoute(name="sms", channel="webhook", url=sms_gateway.url, from_escalation_level=1),
    )
    appliance = await make_appliance(
        alerts=fast_alerts(*routes),
        incidents=IncidentSettings(escalate_after_s=1.0, tick_s=0.1, auto_resolve_after_s=60),
    )
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        await record(client)

        async def siren_then_sms() -> bool:
            return len(ui_gateway.delivered()) >= 1 and len(sms_gateway.delivered()) >= 1

        await eventually(siren_then_sms)
        incident = (await client.get("/api/v1/incidents", headers=AUTH)).json()["items"][0]
        await client.post(
            f"/api/v1/incidents/{incident['incident_id']}/acknowledge",
            json={"by": "anna"},
            headers=AUTH,
        )

        async def both_told_of_ack() -> bool:
            types = [p["type"] for g in (ui_gateway, sms_gateway) for p in g.delivered()]
            return types.count("incident.acknowledged") == 2

        await eventually(both_told_of_ack)

    assert next(p["type"] for p in ui_gateway.delivered()) == "incident.opened"
    assert next(p["type"] for p in sms_gateway.delivered()) == "incident.escalated"


async def test_route_filters_skip_low_severity(
    make_appliance: MakeAppliance, make_gateway: Any
) -> None:
    gateway = await make_gateway()
    route = AlertRoute(
        name="sms", channel="webhook", url=gateway.url, min_severity=Severity.CRITICAL
    )
    appliance = await make_appliance(alerts=fast_alerts(route))
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        await record(client, kind="water_low", severity="warning")
        await record(client, kind="predator", severity="critical")

        async def one_arrived() -> bool:
            return len(gateway.delivered()) >= 1

        await eventually(one_arrived)
        await asyncio.sleep(0.3)
    assert [p["incident"]["kind"] for p in gateway.delivered()] == ["predator"]


@pytest.mark.parametrize(
    ("moment", "severity", "alerts"),
    [
        (time(23, 30), Severity.WARNING, False),
        (time(3, 0), Severity.WARNING, False),
        (time(3, 0), Severity.CRITICAL, True),
        (time(12, 0), Severity.WARNING, True),
        (time(6, 0), Severity.WARNING, True),
    ],
)
def test_quiet_hours_cross_midnight_and_let_critical_through(
    moment: time, severity: Severity, alerts: bool
) -> None:
    route = AlertRoute(
        name="sms",
        channel="webhook",
        url="http://127.0.0.1:1/x",
        quiet_hours=QuietHours(start=time(22, 0), end=time(6, 0)),
    )
    at = datetime.combine(datetime(2026, 6, 1), moment)
    assert route.wants(FarmEventKind.INTRUDER, severity, at) is alerts


def test_webhook_route_without_url_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a url"):
        AlertRoute(name="sms", channel="webhook")


async def read_sse(response: aiohttp.ClientResponse, count: int) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async with asyncio.timeout(15):
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in current:
                    events.append(current)
                    if len(events) == count:
                        return events
                current = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                current[name] = value
    return events


async def test_browser_push_delivers_incidents_and_replays_after_reconnect(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance()
    stream = f"{appliance.url}/api/v1/alerts/stream"
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        httpx.AsyncClient(base_url=appliance.url) as client,
    ):
        async with session.get(stream) as live:
            await live.content.readline()  # ": connected"
            await record(client, kind="predator")
            [first] = await read_sse(live, 1)
        await record(client, kind="escape", severity="warning")  # while disconnected
        async with session.get(stream, headers={"Last-Event-ID": first["id"]}) as again:
            [missed] = await read_sse(again, 1)

    assert first["event"] == "incident.opened"
    assert json.loads(first["data"])["incident"]["kind"] == "predator"
    assert json.loads(missed["data"])["incident"]["kind"] == "escape"
    assert int(missed["id"]) > int(first["id"])
