"""The devices pages in a real browser: a simulated gate (the device firmware on a simulated
board, over the appliance's real MQTT broker) is online, a command sent from its page shows
its saga moving on to the device's acknowledgement."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser

from appliance import keys
from firmware.sim.fleet import Fleet
from tests.conftest import RunningAppliance
from tests.web_ui.conftest import AUTH, StartAppliance, create_first_user, open_ui

pytestmark = pytest.mark.asyncio(loop_scope="module")

GATE = "gate-north"


@pytest_asyncio.fixture(loop_scope="module")
async def gate_farm(
    start_appliance: StartAppliance, tmp_path: Path
) -> AsyncIterator[RunningAppliance]:
    """An appliance with one simulated gate running its firmware against the broker."""
    appliance = await start_appliance()
    await asyncio.wait_for(appliance.app[keys.MQTT].ready.wait(), 10)
    await create_first_user(appliance.url)
    async with httpx.AsyncClient(base_url=appliance.url, headers=AUTH, timeout=30) as api:
        reply = await api.post(
            "/api/v1/devices", json={"device_id": GATE, "device_type": "gate", "name": "North gate"}
        )
    assert reply.status_code == 201, reply.text
    mqtt = reply.json()["mqtt"]
    settings = tmp_path / f"{GATE}.json"
    settings.write_text(
        json.dumps(
            {
                "device_id": GATE,
                "device_type": "gate",
                "host": mqtt["host"],
                "port": mqtt["port"],
                "root": mqtt["root"],
                "username": mqtt["username"],
                "password": mqtt["password"],
                "report_interval_s": 1,
            }
        )
    )
    fleet = Fleet.from_settings([str(settings)], speed=60.0)
    running = asyncio.create_task(asyncio.to_thread(fleet.run))
    try:
        yield appliance
    finally:
        fleet.stop()
        await running


async def test_device_command_shows_the_devices_acknowledgement(
    gate_farm: RunningAppliance, browser: Browser
) -> None:
    ui = await open_ui(browser, gate_farm.url)
    await ui.sign_in_quietly()
    await ui.goto("/devices")
    page = ui.page
    await page.wait_for_selector(
        f"[data-device-id='{GATE}'] [data-availability='online']", timeout=20000
    )

    await page.click(f"[data-device-id='{GATE}'] a")
    await page.wait_for_selector("#command-action")
    await page.select_option("#command-action", "open")
    await page.click("#command-send")
    row = page.locator("#saga-list [data-saga-state='done']").first
    await row.wait_for(timeout=20000)
    correlation_id = await row.get_attribute("data-correlation-id")
    saga = await gate_farm.app[keys.COMMANDS].get(correlation_id or "")
    states_seen = await page.locator("#saga-list .saga-state").all_inner_texts()
    chart_count = await page.locator("#device-charts svg.chart").count()

    assert saga is not None
    assert (saga.action, saga.state.value, saga.requested_by) == ("open", "done", "anna")
    assert states_seen[0] == "Done"
    assert chart_count > 0
    assert ui.foreign_requests() == []
    assert ui.page_errors == []
    await ui.close()
