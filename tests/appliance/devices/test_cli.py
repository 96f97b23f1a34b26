"""`byre device` against a running appliance (the CLI runs on a thread, as a user's shell)."""

from __future__ import annotations

import asyncio
import re

from typer.testing import CliRunner

from cli.main import app
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.devices.conftest import Farm
from tests.conftest import API_TOKEN

runner = CliRunner()


async def byre(farm: Farm, *args: str) -> tuple[int, str]:
    options = ["--appliance", farm.appliance.url]
    result = await asyncio.to_thread(
        runner.invoke, app, ["device", *args, *options], env={"BYRE_APPLIANCE_API_TOKEN": API_TOKEN}
    )
    return result.exit_code, result.output


async def test_provision_prints_credentials_that_log_in(farm: Farm) -> None:
    code, output = await byre(farm, "provision", "--type", "climate", "--id", "barn-climate-1")
    password = re.search(r"password\s+(\S+)", output)

    assert code == 0, output
    assert password is not None
    assert await farm.device("barn-climate-1", password.group(1)).connect()


async def test_command_and_list(farm: Farm) -> None:
    gate = await farm.online_device("gate-1", "gate")

    code, output = await byre(farm, "command", "gate-1", "open", "--correlation-id", "cli-1")
    listed_code, listed = await byre(farm, "list")

    assert (code, listed_code) == (0, 0)
    assert "command cli-1: requested" in output
    assert "gate-1" in listed
    assert [m.topic for m in await gate.received(1)] == [
        device_topic("gate-1", DeviceTopicKind.COMMAND)
    ]


async def test_bad_device_type_is_reported(farm: Farm) -> None:
    code, output = await byre(farm, "provision", "--type", "tractor", "--id", "t-1")

    assert code == 1
    assert "device_type" in output or "Input should be" in output
