"""A program per device type: which sensors it reports, which commands it carries out.

Names of telemetry values and commands follow `contracts/devices.py` (a test holds them equal).
"""

from firmware.device.board import Board
from firmware.device.runtime import Program


def _int(params: dict[str, object], name: str, default: int, low: int, high: int) -> int | None:
    value = params.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


class GateProgram(Program):
    """A motorised gate: open/close take `travel_s`; reports when it got there."""

    travel_s = 4.0

    def __init__(self, board: Board) -> None:
        self.board = board
        self.open = False
        self.moving_until = 0.0
        self.target = False
        self.waiting = ""

    def telemetry(self, now: float) -> dict[str, float]:
        return {"open": 1.0 if self.open else 0.0}

    def state(self) -> dict[str, object]:
        return {"open": self.open, "moving": bool(self.waiting)}

    def execute(self, action: str, params: dict[str, object], now: float) -> tuple[str, str]:
        if action not in ("open", "close"):
            return "failed", "unknown action " + action
        target = action == "open"
        if target == self.open and not self.waiting:
            return "done", "already " + ("open" if target else "closed")
        self.target = target
        self.moving_until = now + self.travel_s
        self.board.drive("motor", 1 if target else -1, now)
        return "accepted", ""

    def accept(self, correlation_id: str) -> None:
        self.waiting = correlation_id

    def update(self, now: float) -> list[tuple[str, str]]:
        if not self.waiting or now < self.moving_until:
            return []
        self.open = self.target
        self.board.drive("motor", 0, now)
        finished, self.waiting = self.waiting, ""
        return [(finished, "done")]


class FanProgram(Program):
    def __init__(self, board: Board) -> None:
        self.board = board
        self.speed = 0

    def telemetry(self, now: float) -> dict[str, float]:
        return {"speed_pct": float(self.speed), "rpm": round(self.board.read("rpm", now), 1)}

    def state(self) -> dict[str, object]:
        return {"on": self.speed > 0, "speed_pct": self.speed}

    def execute(self, action: str, params: dict[str, object], now: float) -> tuple[str, str]:
        if action == "turn_off":
            speed: int | None = 0
        elif action == "set_speed":
            speed = _int(params, "speed_pct", -1, 0, 100)
        else:
            return "failed", "unknown action " + action
        if speed is None:
            return "failed", "speed_pct must be 0..100"
        self.speed = speed
        self.board.drive("fan", speed, now)
        return "done", ""


class LightProgram(Program):
    def __init__(self, board: Board) -> None:
        self.board = board
        self.brightness = 0
        self.off_at = 0.0

    def telemetry(self, now: float) -> dict[str, float]:
        return {"brightness_pct": float(self.brightness)}

    def state(self) -> dict[str, object]:
        return {"on": self.brightness > 0, "brightness_pct": self.brightness}

    def execute(self, action: str, params: dict[str, object], now: float) -> tuple[str, str]:
        if action == "turn_off":
            self._set(0, now)
            return "done", ""
        if action != "turn_on":
            return "failed", "unknown action " + action
        brightness = _int(params, "brightness_pct", 100, 1, 100)
        duration = _int(params, "duration_s", 0, 0, 86_400)
        if brightness is None or duration is None:
            return "failed", "bad brightness_pct or duration_s"
        self._set(brightness, now)
        self.off_at = now + duration if duration else 0.0
        return "done", ""

    def update(self, now: float) -> list[tuple[str, str]]:
        if self.off_at and now >= self.off_at:
            self._set(0, now)
            self.off_at = 0.0
        return []

    def _set(self, brightness: int, now: float) -> None:
        self.brightness = brightness
        self.board.drive("light", brightness, now)


class SirenProgram(Program):
    def __init__(self, board: Board) -> None:
        self.board = board
        self.until = 0.0
        self.pattern = "alarm"

    def telemetry(self, now: float) -> dict[str, float]:
        return {"sounding": 1.0 if self.until > now else 0.0}

    def state(self) -> dict[str, object]:
        return {"sounding": self.until > 0, "pattern": self.pattern}

    def execute(self, action: str, params: dict[str, object], now: float) -> tuple[str, str]:
        if action == "silence":
            self.until = 0.0
            self.board.drive("siren", 0, now)
            return "done", ""
        if action != "sound":
            return "failed", "unknown action " + action
        duration = _int(params, "duration_s", 30, 1, 600)
        pattern = params.get("pattern", "alarm")
        if duration is None or pattern not in ("alarm", "chime"):
            return "failed", "bad duration_s or pattern"
        self.pattern = str(pattern)
        self.until = now + duration
        self.board.drive("siren", 1, now)
        return "done", ""

    def update(self, now: float) -> list[tuple[str, str]]:
        if self.until and now >= self.until:
            self.until = 0.0
            self.board.drive("siren", 0, now)
        return []


class WaterTroughProgram(Program):
    """Level sensor and a refill valve; `refill` is done when the level reaches the target."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.valve = False
        self.target = 0
        self.waiting = ""

    def telemetry(self, now: float) -> dict[str, float]:
        return {
            "level_pct": round(self.board.read("level_pct", now), 1),
            "inflow_lpm": round(self.board.read("inflow_lpm", now), 1),
        }

    def state(self) -> dict[str, object]:
        return {"valve_open": self.valve, "target_pct": self.target if self.valve else None}

    def execute(self, action: str, params: dict[str, object], now: float) -> tuple[str, str]:
        if action == "stop_refill":
            self._valve(False, now)
            return "done", ""
        if action != "refill":
            return "failed", "unknown action " + action
        target = _int(params, "target_pct", 90, 10, 100)
        if target is None:
            return "failed", "target_pct must be 10..100"
        if self.board.read("level_pct", now) >= target:
            return "done", "already full"
        self.target = target
        self._valve(True, now)
        return "accepted", ""

    def accept(self, correlation_id: str) -> None:
        self.waiting = correlation_id

    def update(self, now: float) -> list[tuple[str, str]]:
        if not self.valve or self.board.read("level_pct", now) < self.target:
            return []
        self._valve(False, now)
        finished, self.waiting = self.waiting, ""
        return [(finished, "done")] if finished else []

    def _valve(self, open_: bool, now: float) -> None:
        self.valve = open_
        self.board.drive("valve", 1 if open_ else 0, now)


class ClimateProgram(Program):
    def __init__(self, board: Board) -> None:
        self.board = board

    def telemetry(self, now: float) -> dict[str, float]:
        return {
            name: round(self.board.read(name, now), 2)
            for name in ("temperature_c", "humidity_pct", "ammonia_ppm")
        }


class FeederScaleProgram(Program):
    def __init__(self, board: Board) -> None:
        self.board = board
        self.tare_kg = 0.0

    def telemetry(self, now: float) -> dict[str, float]:
        return {"weight_kg": round(self.board.read("weight_kg", now) - self.tare_kg, 2)}

    def state(self) -> dict[str, object]:
        return {"tare_kg": self.tare_kg}

    def execute(self, action: str, params: dict[str, object], now: float) -> tuple[str, str]:
        if action != "tare":
            return "failed", "unknown action " + action
        self.tare_kg = round(self.board.read("weight_kg", now), 2)
        return "done", ""


class PowerMonitorProgram(Program):
    def __init__(self, board: Board) -> None:
        self.board = board

    def telemetry(self, now: float) -> dict[str, float]:
        return {
            "mains_ok": 1.0 if self.board.read("voltage_v", now) > 180 else 0.0,
            "voltage_v": round(self.board.read("voltage_v", now), 1),
            "battery_pct": round(self.board.read("battery_pct", now), 1),
        }


PROGRAMS = {
    "gate": GateProgram,
    "fan": FanProgram,
    "light": LightProgram,
    "siren": SirenProgram,
    "water_trough": WaterTroughProgram,
    "climate": ClimateProgram,
    "feeder_scale": FeederScaleProgram,
    "power_monitor": PowerMonitorProgram,
}


def make_program(device_type: str, board: Board) -> Program:
    program: Program = PROGRAMS[device_type](board)
    return program
