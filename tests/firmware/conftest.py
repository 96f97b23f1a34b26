"""Device firmware against a real embedded broker (the fixtures of the broker tests)."""

from __future__ import annotations

import json
from pathlib import Path

from firmware.device.programs import make_program
from firmware.device.runtime import Device
from firmware.device.settings import Settings
from firmware.sim.physics import make_board
from tests.appliance.mqtt.conftest import (  # noqa: F401 - fixtures used by these tests
    RunningBroker,
    broker,
    make_broker,
)


def write_settings(directory: Path, device_id: str, device_type: str, **values: object) -> str:
    path = directory / f"{device_id}.json"
    path.write_text(
        json.dumps(
            {
                "device_id": device_id,
                "device_type": device_type,
                "username": device_id,
                "password": "not-yet",
                "keepalive_s": 5,
                "report_interval_s": 1,
                "backoff_min_s": 0.2,
                "backoff_max_s": 2.0,
                **values,
            }
        )
    )
    return str(path)


def make_device(path: str, start: float, speed: float = 1.0) -> Device:
    settings = Settings.load(path)
    device_type = settings.text("device_type")
    board = make_board(device_type, 1, start, speed)
    return Device(settings, make_program(device_type, board))
