"""Simulated boards: sensors follow plausible physics, outputs change the simulated world.

Simulated time runs `speed` times faster than the wall clock (a day in minutes for demos).
Troughs drain as animals drink (more in the heat) and their float valve refills them (a
sticky valve now and then lets one run low); temperature follows the day; ammonia builds up at
night in a closed barn; the mains fail now and then and the battery takes over.
"""

import math
import random

from firmware.device.board import Board


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class SimBoard(Board):
    def __init__(self, seed: int, start: float, speed: float = 1.0, start_hour: float = 12.0):
        self.random = random.Random(seed) if hasattr(random, "Random") else random
        self.start = start
        self.speed = speed
        self.start_hour = start_hour
        self.outputs: dict[str, float] = {}
        self.last = start

    def sim_seconds(self, now: float) -> float:
        return (now - self.start) * self.speed

    def hour(self, now: float) -> float:
        return (self.start_hour + self.sim_seconds(now) / 3600) % 24

    def elapsed(self, now: float) -> float:
        """Simulated seconds since the previous call."""
        dt = max(now - self.last, 0.0) * self.speed
        self.last = now
        return dt

    def noise(self, sigma: float) -> float:
        return self.random.gauss(0, sigma) if hasattr(self.random, "gauss") else 0.0

    def drive(self, name: str, value: float, now: float) -> None:
        self.advance(now)
        self.outputs[name] = value

    def advance(self, now: float) -> None:
        """Move the simulated world forward to `now`."""
        self.elapsed(now)

    def read(self, name: str, now: float) -> float:
        self.advance(now)
        return self.value(name, now)

    def value(self, name: str, now: float) -> float:
        raise NotImplementedError(name)


def day_temperature(hour: float) -> float:
    """Air temperature over a summer day: coolest near 5 h, warmest near 15 h."""
    return 19 + 9 * math.sin((hour - 9) / 24 * 2 * math.pi)


class ClimateBoard(SimBoard):
    def __init__(self, seed: int, start: float, speed: float = 1.0, start_hour: float = 12.0):
        super().__init__(seed, start, speed, start_hour)
        self.offset = self.random.uniform(-1.5, 1.5)
        self.ammonia = 8.0

    def advance(self, now: float) -> None:
        dt = self.elapsed(now)
        hour = self.hour(now)
        closed = hour < 6 or hour > 21  # the barn is shut at night: ammonia builds up
        target = 25.0 if closed else 6.0
        self.ammonia += (target - self.ammonia) * min(dt / 7200, 1.0)

    def value(self, name: str, now: float) -> float:
        temperature = day_temperature(self.hour(now)) + self.offset
        if name == "temperature_c":
            return temperature + self.noise(0.2)
        if name == "humidity_pct":
            return _clamp(92 - 1.8 * (temperature - 10) + self.noise(1.0), 15, 100)
        if name == "ammonia_ppm":
            return max(self.ammonia + self.noise(0.5), 0.0)
        raise NotImplementedError(name)


class TroughBoard(SimBoard):
    """Drinking drains the trough; the float valve refills below 35 % unless it sticks."""

    def __init__(self, seed: int, start: float, speed: float = 1.0, start_hour: float = 12.0):
        super().__init__(seed, start, speed, start_hour)
        self.level = self.random.uniform(55, 95)
        self.float_open = False
        self.sticky = self.random.random() < 0.3

    def inflow(self) -> float:
        return 12.0 if self.float_open or self.outputs.get("valve") else 0.0

    def advance(self, now: float) -> None:
        dt = self.elapsed(now)
        heat = max(day_temperature(self.hour(now)) - 15, 0) / 10
        drinking = (0.004 + 0.006 * heat) * (1 + self.random.random())
        if self.level < 35 and not self.sticky:
            self.float_open = True
        if self.level > 90:
            self.float_open = False
        refill = self.inflow() / 12 * 0.05
        self.level = _clamp(self.level + (refill - drinking) * dt, 0, 100)

    def value(self, name: str, now: float) -> float:
        if name == "level_pct":
            return self.level
        if name == "inflow_lpm":
            return self.inflow()
        raise NotImplementedError(name)


class ScaleBoard(SimBoard):
    """A feed hopper emptied by the herd and topped up by the auger at 10 %."""

    def __init__(self, seed: int, start: float, speed: float = 1.0, start_hour: float = 12.0):
        super().__init__(seed, start, speed, start_hour)
        self.weight = self.random.uniform(150, 400)

    def advance(self, now: float) -> None:
        dt = self.elapsed(now)
        hour = self.hour(now)
        eating = 0.004 if 6 <= hour <= 20 else 0.001
        self.weight = max(self.weight - eating * dt, 0.0)
        if self.weight < 40:
            self.weight = 400.0

    def value(self, name: str, now: float) -> float:
        if name == "weight_kg":
            return self.weight + self.noise(0.05)
        raise NotImplementedError(name)


class PowerBoard(SimBoard):
    """Mains at 230 V with an outage now and then (a few per simulated day)."""

    def __init__(self, seed: int, start: float, speed: float = 1.0, start_hour: float = 12.0):
        super().__init__(seed, start, speed, start_hour)
        self.outage_left = 0.0
        self.battery = 100.0

    def advance(self, now: float) -> None:
        dt = self.elapsed(now)
        if self.outage_left > 0:
            self.outage_left = max(self.outage_left - dt, 0.0)
            self.battery = max(self.battery - 0.01 * dt, 0.0)
        else:
            self.battery = min(self.battery + 0.005 * dt, 100.0)
            if self.random.random() < dt / 28_800:  # about three outages a day
                self.outage_left = self.random.uniform(120, 1200)

    def value(self, name: str, now: float) -> float:
        if name == "voltage_v":
            return 0.0 if self.outage_left > 0 else 230 + self.noise(2.0)
        if name == "battery_pct":
            return self.battery
        raise NotImplementedError(name)


class FanBoard(SimBoard):
    """The rotor follows the commanded speed with some inertia."""

    def __init__(self, seed: int, start: float, speed: float = 1.0, start_hour: float = 12.0):
        super().__init__(seed, start, speed, start_hour)
        self.rpm = 0.0

    def advance(self, now: float) -> None:
        dt = self.elapsed(now)
        target = self.outputs.get("fan", 0.0) * 14
        self.rpm += (target - self.rpm) * min(dt / 3, 1.0)

    def value(self, name: str, now: float) -> float:
        if name == "rpm":
            return max(self.rpm + self.noise(3.0), 0.0) if self.rpm > 1 else 0.0
        raise NotImplementedError(name)


class OutputBoard(SimBoard):
    """Gates, lights and sirens: nothing to measure beyond what the program drives."""

    def value(self, name: str, now: float) -> float:
        return self.outputs.get(name, 0.0)


BOARDS = {
    "gate": OutputBoard,
    "fan": FanBoard,
    "light": OutputBoard,
    "siren": OutputBoard,
    "water_trough": TroughBoard,
    "climate": ClimateBoard,
    "feeder_scale": ScaleBoard,
    "power_monitor": PowerBoard,
}


def make_board(
    device_type: str, seed: int, start: float, speed: float = 1.0, start_hour: float = 12.0
) -> SimBoard:
    board: SimBoard = BOARDS[device_type](seed, start, speed, start_hour)
    return board
