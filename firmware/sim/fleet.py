"""Run many device programs on simulated boards in one loop, against a real broker.

Each device has its own settings file (as on a board) and its own MQTT connection. The loop
steps every device, then sleeps a little; `stop()` from another thread ends it.
"""

import time

from firmware.device.programs import make_program
from firmware.device.runtime import Device
from firmware.device.settings import Settings
from firmware.sim.physics import make_board


class Fleet:
    def __init__(self, devices: list[Device]) -> None:
        self.devices = devices
        self.stopped = False

    @classmethod
    def from_settings(
        cls, paths: list[str], speed: float = 1.0, start_hour: float = 12.0
    ) -> "Fleet":
        start = time.time()
        devices = []
        for n, path in enumerate(paths):
            settings = Settings.load(path)
            device_type = settings.text("device_type")
            board = make_board(device_type, n, start, speed, start_hour)
            devices.append(Device(settings, make_program(device_type, board)))
        return cls(devices)

    def run(self, tick_s: float = 0.05) -> None:
        """Step every device until `stop()`; then disconnect them cleanly."""
        try:
            while not self.stopped:
                now = time.time()
                for device in self.devices:
                    device.step(now)
                time.sleep(tick_s)
        finally:
            for device in self.devices:
                device.stop()

    def stop(self) -> None:
        self.stopped = True

    def connected(self) -> int:
        return sum(1 for d in self.devices if d.connected)
