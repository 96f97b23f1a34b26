"""Settings over real HTTP: shown without secrets, replaced by section, validated, applied to
the running dispatcher, incident engine and camera filters at once, and kept across restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance import keys
from appliance.alerts.webhook import signature
from appliance.store import Database
from appliance.store.kv import KeyValue
from tests.appliance.web.conftest import (
    AUTH,
    CHEAP_AUTH,
    Gateway,
    MakeCameraAppliance,
    pipeline_of,
    sign_in_farmer,
)
from tests.conftest import MakeAppliance, eventually

SECRET = "gateway-secret"
FAST = {"retry_min_s": 0.05, "retry_max_s": 0.2, "max_attempts": 3}


def webhook(url: str, **changes: Any) -> dict[str, Any]:
    return {"name": "sms", "channel": "webhook", "url": url, "secret": SECRET} | changes


async def record_intruder(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/api/v1/events",
        json={
            "correlation_id": "cam-1:intruder:gate",
            "event": {"kind": "intruder", "severity": "critical", "summary": "person at the gate"},
        },
    )
    assert reply.status_code == 201


async def test_settings_show_every_section_and_never_a_secret(
    make_appliance: MakeAppliance, gateway: Gateway
) -> None:
    appliance = await make_appliance(alerts={"routes": [webhook(gateway.url)]})
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        reply = await client.get("/api/v1/settings")

    body = reply.json()
    assert reply.status_code == 200
    assert set(body) == {"alerts", "vision", "incidents"}
    (route,) = body["alerts"]["routes"]
    assert route["secret"] == {"set": True}
    assert SECRET not in reply.text
    assert body["vision"]["filters"]["default"]["min_score"] == 0.4
    assert set(body["vision"]) == {"filters", "night", "tracker"}
    assert body["incidents"]["escalate_after_s"] == 300.0


async def test_new_alert_route_fires_at_once_and_a_shown_secret_is_kept(
    make_appliance: MakeAppliance, gateway: Gateway
) -> None:
    appliance = await make_appliance(alerts={"routes": [webhook(gateway.url + "/old")]} | FAST)
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        shown = (await client.get("/api/v1/settings")).json()["alerts"]
        shown["routes"][0]["url"] = gateway.url  # edited in the UI; secret still {"set": true}
        replaced = await client.put("/api/v1/settings/alerts", json=shown)
        await record_intruder(client)

        async def delivered() -> bool:
            return len(gateway.calls) == 1

        await eventually(delivered)

    assert replaced.status_code == 200
    assert replaced.json()["routes"][0] == shown["routes"][0]
    headers, body = gateway.calls[0]
    assert headers["X-Byre-Signature"] == signature(SECRET, headers["X-Byre-Timestamp"], body)
    assert json.loads(body)["type"] == "incident.opened"
    assert appliance.app[keys.ALERTS].settings.routes[0].url == gateway.url


@pytest.mark.parametrize(
    ("secret", "expected"),
    [({"set": False}, None), ("a-new-secret", "a-new-secret"), (None, SECRET)],
)
async def test_route_secret_is_kept_replaced_or_removed(
    make_appliance: MakeAppliance, gateway: Gateway, secret: Any, expected: str | None
) -> None:
    appliance = await make_appliance(alerts={"routes": [webhook(gateway.url)]})
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        reply = await client.put(
            "/api/v1/settings/alerts", json={"routes": [webhook(gateway.url, secret=secret)]}
        )

    (route,) = appliance.app[keys.ALERTS].settings.routes
    assert reply.status_code == 200
    assert reply.json()["routes"][0]["secret"] == {"set": expected is not None}
    assert (route.secret.get_secret_value() if route.secret else None) == expected


async def test_incident_timings_apply_at_once_and_survive_a_restart(
    make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    data_dir = tmp_path / "kept"
    first = await make_appliance(data_dir)
    async with httpx.AsyncClient(base_url=first.url, headers=AUTH) as client:
        incidents = (await client.get("/api/v1/settings")).json()["incidents"]
        escape = {"auto_resolve_after_s": None, "cooldown_s": 5.0}
        incidents |= {"escalate_after_s": 42.0, "per_kind": {"escape": escape}}
        reply = await client.put("/api/v1/settings/incidents", json=incidents)
    engine = first.app[keys.INCIDENTS]
    assert reply.status_code == 200
    assert reply.json() == incidents
    assert engine.settings.escalate_after_s == 42.0
    await first.runner.cleanup()

    second = await make_appliance(data_dir)
    async with httpx.AsyncClient(base_url=second.url, headers=AUTH) as client:
        shown = (await client.get("/api/v1/settings")).json()["incidents"]

    assert shown == incidents
    assert second.app[keys.INCIDENTS].settings.escalate_after_s == 42.0


async def test_vision_thresholds_apply_to_the_running_camera_at_once(
    make_camera_appliance: MakeCameraAppliance,
) -> None:
    appliance = await make_camera_appliance()
    pipeline = pipeline_of(appliance)

    async def tracking() -> bool:
        return pipeline.live is not None and bool(pipeline.live.tracks)

    await eventually(tracking, 20.0)
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        vision = (await client.get("/api/v1/settings")).json()["vision"]
        vision["filters"]["default"]["min_score"] = 1.0  # nothing the detector says passes
        vision["night"]["default"]["min_score"] = 1.0  # by day or by night (the clock varies)
        vision["night"] |= {"schedule": [{"start": "22:00:00", "end": "05:00:00"}]}
        reply = await client.put("/api/v1/settings/vision", json=vision)

    async def nothing_tracked() -> bool:
        return pipeline.live is not None and not pipeline.live.tracks

    await eventually(nothing_tracked, 20.0)
    assert reply.status_code == 200
    assert reply.json() == vision
    assert pipeline.selector.day.rules["cow"].min_score == 1.0


@pytest.mark.parametrize(
    ("section", "change", "field"),
    [
        ("alerts", {"routes": [{"name": "x", "channel": "webhook"}]}, "routes.0"),
        (
            "alerts",
            {"routes": [{"name": "x", "channel": "webhook", "url": "ftp://a"}]},
            "routes.0.url",
        ),
        (
            "alerts",
            {"routes": [{"name": "x", "channel": "mqtt", "secret": {"set": True}}]},
            "routes.0.secret",
        ),
        ("alerts", {"retry_min_s": 0}, "retry_min_s"),
        ("alerts", {"colour": "red"}, "colour"),
        ("incidents", {"cooldown_s": -1}, "cooldown_s"),
        ("incidents", {"per_kind": {"ufo": {}}}, "per_kind.ufo.[key]"),
        ("vision", {"night": {"dark_below": 50, "light_above": 40}}, "night"),
        ("vision", {"filters": {"default": {"min_score": 2}}}, "filters.default.min_score"),
        ("vision", {"tracker": {"min_hits": 9}}, "tracker"),
    ],
)
async def test_bad_settings_are_refused_naming_the_field_and_change_nothing(
    make_appliance: MakeAppliance,
    section: str,
    change: dict[str, Any],
    field: str,
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        before = (await client.get("/api/v1/settings")).json()
        reply = await client.put(f"/api/v1/settings/{section}", json=before[section] | change)
        after = (await client.get("/api/v1/settings")).json()

    assert reply.status_code == 400
    assert reply.json()["field"] == field
    assert reply.json()["error"]
    assert after == before


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/settings/network", {}, 404),
        ("/api/v1/settings/alerts", [1, 2], 400),
        ("/api/v1/settings/alerts", "not json", 400),
    ],
)
async def test_unknown_section_or_a_body_that_is_no_object_is_refused(
    make_appliance: MakeAppliance, path: str, body: Any, status: int
) -> None:
    appliance = await make_appliance()
    content = body if isinstance(body, str) else json.dumps(body)
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        reply = await client.put(path, content=content)

    assert reply.status_code == status
    assert reply.json()["error"]


async def test_farmers_read_settings_but_only_technicians_change_them(
    make_appliance: MakeAppliance,
) -> None:
    appliance = await make_appliance(auth=CHEAP_AUTH)
    async with (
        httpx.AsyncClient(base_url=appliance.url) as farmer,
        httpx.AsyncClient(base_url=appliance.url) as anonymous,
    ):
        await sign_in_farmer(appliance, farmer)
        shown = await farmer.get("/api/v1/settings")
        refused = await farmer.put("/api/v1/settings/incidents", json=shown.json()["incidents"])
        unsigned = await anonymous.get("/api/v1/settings")

    assert shown.status_code == 200
    assert refused.status_code == 403
    assert unsigned.status_code == 401


async def test_a_stored_override_that_no_longer_validates_leaves_the_files_section(
    make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    data_dir = tmp_path / "old"
    data_dir.mkdir()
    db = Database(data_dir / "appliance.db")
    await db.open()
    await KeyValue(db).put("overrides.settings.incidents", {"cooldown_s": -5.0})
    await db.close()
    appliance = await make_appliance(data_dir, incidents={"cooldown_s": 7.0})
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH) as client:
        shown = (await client.get("/api/v1/settings")).json()["incidents"]

    assert shown["cooldown_s"] == 7.0
    assert appliance.app[keys.INCIDENTS].settings.cooldown_s == 7.0
