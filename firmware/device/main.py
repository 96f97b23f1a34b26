"""Entry point on a board: `import firmware.device.main as m; m.run("settings.json")`."""

import time

from firmware.device.board import PinBoard
from firmware.device.programs import make_program
from firmware.device.runtime import Device
from firmware.device.settings import Settings


def run(path: str) -> None:
    settings = Settings.load(path)
    sensors = settings.values.get("sensors") or {}
    outputs = settings.values.get("outputs") or {}
    if not isinstance(sensors, dict) or not isinstance(outputs, dict):
        raise ValueError("sensors and outputs must be JSON objects")
    board = PinBoard(sensors, outputs)
    device = Device(settings, make_program(settings.text("device_type"), board))
    while True:
        device.step(time.time())
        time.sleep(0.05)
