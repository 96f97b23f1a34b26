"""`byre device simulate`: the firmware of every device type, on simulated boards, against a
running appliance; commands to simulated devices complete as sagas."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from appliance import keys
from cli.main import app
from tests.appliance.devices.conftest import AUTH, Farm
from tests.conftest import API_TOKEN, eventually

runner = CliRunner()


async def test_simulated_fleet_comes_online_reports_and_obeys(farm: Farm) -> None:
    args = ["device", "simulate", "--count", "8", "--duration", "6", "--report-interval", "1"]
    simulation = asyncio.create_task(
        asyncio.to_thread(
            runner.invoke,
            app,
            [*args, "--appliance", farm.appliance.url],
            env={"BYRE_APPLIANCE_API_TOKEN": API_TOKEN},
        )
    )

    async def all_online() -> bool:
        reply = await farm.api.get("/api/v1/devices", headers=AUTH)
        items = reply.json()["items"]
        return len(items) == 8 and all(d["status"]["availability"] == "online" for d in items)

    await eventually(all_online)
    light = await farm.command("sim-light-5", action="turn_on", params={"brightness_pct": 30})
    correlation_id = light.json()["correlation_id"]

    async def done() -> bool:
        saga = await farm.appliance.app[keys.COMMANDS].get(correlation_id)
        return saga is not None and saga.state.value == "done"

    await eventually(done)
    result = await simulation
    sources = {
        e.payload["source_id"]
        for e in await farm.appliance.app[keys.EVENTS].list_events(limit=1000)
        if e.type.value == "telemetry.device"
    }

    assert result.exit_code == 0, result.output
    assert "simulation over: 8 devices, 8 connections, 1 commands" in result.output
    assert len(sources) == 8
