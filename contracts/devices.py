"""Device types of the farm: what each reports and which commands it accepts over MQTT.

The command of a `DeviceCommand` is `action` + `params`; `COMMANDS[type][action]` is the
model its params must match (`command_params` validates them). Devices publish telemetry with
the `TELEMETRY` fields of their type, a retained JSON `state` object, and `online`/`offline` on
their availability topic (retained; `offline` is their last will).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationError

from contracts.base import ContractModel
from contracts.errors import ContractError


class DeviceType(StrEnum):
    """Kinds of device the appliance can provision; the firmware has a program for each."""

    GATE = "gate"
    FAN = "fan"
    LIGHT = "light"
    SIREN = "siren"
    WATER_TROUGH = "water_trough"
    CLIMATE = "climate"
    FEEDER_SCALE = "feeder_scale"
    POWER_MONITOR = "power_monitor"


class Capability(StrEnum):
    OPEN_CLOSE = "open_close"
    SWITCH = "switch"
    SPEED = "speed"
    DIMMING = "dimming"
    SOUND = "sound"
    REFILL = "refill"
    TARE = "tare"
    MEASURE_LEVEL = "measure_level"
    MEASURE_CLIMATE = "measure_climate"
    MEASURE_WEIGHT = "measure_weight"
    MEASURE_POWER = "measure_power"


# --- command parameters ------------------------------------------------------------------------


class NoParams(ContractModel):
    """A command without parameters."""


class SetReportInterval(ContractModel):
    interval_s: int = Field(ge=1, le=3600, description="Seconds between telemetry reports.")


class SetSpeed(ContractModel):
    speed_pct: int = Field(ge=0, le=100, description="Fan speed; 0 stops the fan.")


class TurnOn(ContractModel):
    brightness_pct: int = Field(default=100, ge=1, le=100, description="Light level.")
    duration_s: int | None = Field(
        default=None, ge=1, le=86_400, description="Turn off again after this long."
    )


class Sound(ContractModel):
    duration_s: int = Field(default=30, ge=1, le=600, description="How long the siren sounds.")
    pattern: Literal["alarm", "chime"] = Field(default="alarm", description="Siren pattern.")


class Refill(ContractModel):
    target_pct: int = Field(default=90, ge=10, le=100, description="Fill the trough to this level.")


_COMMON: dict[str, type[ContractModel]] = {"set_report_interval": SetReportInterval}

COMMANDS: dict[DeviceType, dict[str, type[ContractModel]]] = {
    DeviceType.GATE: {"open": NoParams, "close": NoParams, **_COMMON},
    DeviceType.FAN: {"set_speed": SetSpeed, "turn_off": NoParams, **_COMMON},
    DeviceType.LIGHT: {"turn_on": TurnOn, "turn_off": NoParams, **_COMMON},
    DeviceType.SIREN: {"sound": Sound, "silence": NoParams, **_COMMON},
    DeviceType.WATER_TROUGH: {"refill": Refill, "stop_refill": NoParams, **_COMMON},
    DeviceType.CLIMATE: dict(_COMMON),
    DeviceType.FEEDER_SCALE: {"tare": NoParams, **_COMMON},
    DeviceType.POWER_MONITOR: dict(_COMMON),
}
"""Actions each device type accepts, with the model of their params."""


# --- telemetry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TelemetryField:
    name: str
    unit: str
    low: float
    high: float
    description: str


def _field(name: str, unit: str, low: float, high: float, description: str) -> TelemetryField:
    return TelemetryField(name, unit, low, high, description)


TELEMETRY: dict[DeviceType, tuple[TelemetryField, ...]] = {
    DeviceType.GATE: (_field("open", "bool", 0, 1, "1 while the gate is open."),),
    DeviceType.FAN: (
        _field("speed_pct", "%", 0, 100, "Commanded speed."),
        _field("rpm", "1/min", 0, 5000, "Measured rotation."),
    ),
    DeviceType.LIGHT: (_field("brightness_pct", "%", 0, 100, "0 when off."),),
    DeviceType.SIREN: (_field("sounding", "bool", 0, 1, "1 while sounding."),),
    DeviceType.WATER_TROUGH: (
        _field("level_pct", "%", 0, 100, "Water level."),
        _field("inflow_lpm", "l/min", 0, 200, "Refill valve flow."),
    ),
    DeviceType.CLIMATE: (
        _field("temperature_c", "degC", -40, 60, "Air temperature."),
        _field("humidity_pct", "%", 0, 100, "Relative humidity."),
        _field("ammonia_ppm", "ppm", 0, 200, "Ammonia concentration."),
    ),
    DeviceType.FEEDER_SCALE: (_field("weight_kg", "kg", 0, 5000, "Feed in the hopper."),),
    DeviceType.POWER_MONITOR: (
        _field("mains_ok", "bool", 0, 1, "1 while mains power is present."),
        _field("voltage_v", "V", 0, 400, "Mains voltage."),
        _field("battery_pct", "%", 0, 100, "Backup battery charge."),
    ),
}
"""Telemetry values each device type reports (other names are accepted and stored too)."""

CAPABILITIES: dict[DeviceType, frozenset[Capability]] = {
    DeviceType.GATE: frozenset({Capability.OPEN_CLOSE}),
    DeviceType.FAN: frozenset({Capability.SWITCH, Capability.SPEED}),
    DeviceType.LIGHT: frozenset({Capability.SWITCH, Capability.DIMMING}),
    DeviceType.SIREN: frozenset({Capability.SOUND}),
    DeviceType.WATER_TROUGH: frozenset({Capability.MEASURE_LEVEL, Capability.REFILL}),
    DeviceType.CLIMATE: frozenset({Capability.MEASURE_CLIMATE}),
    DeviceType.FEEDER_SCALE: frozenset({Capability.MEASURE_WEIGHT, Capability.TARE}),
    DeviceType.POWER_MONITOR: frozenset({Capability.MEASURE_POWER}),
}


def command_params(
    device_type: DeviceType, action: str, params: dict[str, JsonValue]
) -> dict[str, JsonValue]:
    """Validated params of `action` for `device_type` (defaults filled in); ContractError if
    the type has no such action or the params do not match."""
    model = COMMANDS[device_type].get(action)
    if model is None:
        known = ", ".join(sorted(COMMANDS[device_type]))
        raise ContractError(f"a {device_type.value} accepts only: {known}", field="action")
    try:
        return model.model_validate(params).model_dump(mode="json")
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ContractError(first["msg"], field=f"params.{where}" if where else "params") from err


def describe(device_type: DeviceType) -> dict[str, Any]:
    """A JSON description of a device type: capabilities, telemetry and command schemas."""
    return {
        "type": device_type.value,
        "capabilities": sorted(c.value for c in CAPABILITIES[device_type]),
        "telemetry": [
            {
                "name": f.name,
                "unit": f.unit,
                "low": f.low,
                "high": f.high,
                "description": f.description,
            }
            for f in TELEMETRY[device_type]
        ],
        "commands": {
            action: model.model_json_schema() for action, model in COMMANDS[device_type].items()
        },
    }
