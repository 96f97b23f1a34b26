"""Device programs on simulated boards, and their names held against contracts/devices.py."""

from __future__ import annotations

import pytest

from contracts.devices import COMMANDS, TELEMETRY, DeviceType
from firmware.device.programs import PROGRAMS, GateProgram, WaterTroughProgram, make_program
from firmware.sim.physics import ClimateBoard, OutputBoard, TroughBoard, day_temperature, make_board


@pytest.mark.parametrize("device_type", list(DeviceType))
def test_every_device_type_has_a_program_and_a_board(device_type) -> None:
    program = make_program(device_type.value, make_board(device_type.value, 1, 0.0))

    assert set(program.telemetry(1.0)) == {f.name for f in TELEMETRY[device_type]}


def test_firmware_has_no_device_type_the_contract_lacks() -> None:
    assert set(PROGRAMS) == {t.value for t in DeviceType}


@pytest.mark.parametrize(
    ("device_type", "action"),
    [(t, a) for t in DeviceType for a in COMMANDS[t] if a != "set_report_interval"],
)
def test_program_carries_out_every_command_of_its_type(device_type, action) -> None:
    program = make_program(device_type.value, make_board(device_type.value, 1, 0.0))
    params: dict[str, object] = {"speed_pct": 50} if action == "set_speed" else {}

    status, detail = program.execute(action, params, 1.0)

    assert status in ("done", "accepted"), detail


@pytest.mark.parametrize(
    ("device_type", "action", "params"),
    [
        ("fan", "set_speed", {"speed_pct": 250}),
        ("light", "turn_on", {"brightness_pct": 0}),
        ("siren", "sound", {"pattern": "disco"}),
        ("water_trough", "refill", {"target_pct": 5}),
        ("gate", "fly", {}),
    ],
)
def test_program_refuses_bad_commands(device_type, action, params) -> None:
    program = make_program(device_type, make_board(device_type, 1, 0.0))

    assert program.execute(action, params, 1.0)[0] == "failed"


def test_gate_opens_after_its_travel_time() -> None:
    gate = GateProgram(OutputBoard(1, 0.0))
    assert gate.execute("open", {}, 0.0) == ("accepted", "")
    gate.accept("c-1")

    assert gate.update(1.0) == []
    assert gate.update(gate.travel_s + 0.1) == [("c-1", "done")]
    assert gate.state() == {"open": True, "moving": False}


def test_trough_refill_ends_when_the_level_reaches_the_target() -> None:
    board = TroughBoard(3, 0.0, speed=60)
    board.level = 30.0
    board.sticky = True
    trough = WaterTroughProgram(board)
    assert trough.execute("refill", {"target_pct": 80}, 0.0)[0] == "accepted"
    trough.accept("r-1")

    finished = []
    for second in range(1, 600):
        finished += trough.update(float(second))
        if finished:
            break

    assert finished == [("r-1", "done")]
    assert board.level >= 80


def test_sticky_trough_drains_and_a_healthy_one_refills() -> None:
    sticky, healthy = TroughBoard(1, 0.0, speed=600), TroughBoard(2, 0.0, speed=600)
    sticky.sticky, healthy.sticky = True, False
    sticky.level = healthy.level = 40.0

    for second in range(1, 120):
        sticky.read("level_pct", float(second))
        healthy.read("level_pct", float(second))

    assert sticky.level < 20
    assert healthy.level > 40


def test_temperature_follows_the_day() -> None:
    board = ClimateBoard(1, 0.0, speed=3600, start_hour=0.0)

    readings = [board.read("temperature_c", float(hour)) for hour in range(24)]

    assert max(readings) - min(readings) > 12
    assert readings.index(max(readings)) in range(13, 18)
    assert day_temperature(15) > day_temperature(5)
