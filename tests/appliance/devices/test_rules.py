"""Farm events from device readings over real MQTT, automations, and the THI formulas."""

from __future__ import annotations

import json

import pytest

from appliance import keys
from appliance.devices.rules import RuleSettings, thi
from appliance.devices.settings import Automation, AutomationAction, DeviceSettings
from contracts import DeviceCommand, FarmEventKind
from contracts.mqtt import DeviceTopicKind, device_topic
from tests.appliance.devices.conftest import FAST_COMMANDS, Farm, MakeFarm
from tests.appliance.mqtt.peers import Peer
from tests.conftest import eventually


async def report(device: Peer, device_id: str, **values: float) -> None:
    sample = {"source_id": device_id, "values": values}
    await device.publish(
        device_topic(device_id, DeviceTopicKind.TELEMETRY), json.dumps(sample).encode()
    )


async def farm_events(farm: Farm, count: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []

    async def enough() -> bool:
        events = await farm.appliance.app[keys.EVENTS].list_events(limit=1000)
        found[:] = [e.payload for e in events if e.type.value == "incident.event"]
        return len(found) >= count

    await eventually(enough)
    return found


@pytest.mark.parametrize(
    ("species", "temperature_c", "humidity_pct", "expected"),
    [
        ("cattle", 30.0, 60.0, 79.8),
        ("cattle", 20.0, 50.0, 65.25),
        ("sheep", 30.0, 60.0, 28.1),
        ("pig", 25.0, 80.0, 74.9),
    ],
)
def test_temperature_humidity_index(species, temperature_c, humidity_pct, expected) -> None:
    assert thi(species, temperature_c, humidity_pct) == pytest.approx(expected, abs=0.1)


async def test_heat_stress_is_raised_once_and_again_after_it_ended(farm: Farm) -> None:
    sensor = await farm.online_device("barn-climate-1")

    await report(sensor, "barn-climate-1", temperature_c=31, humidity_pct=70)  # THI 82.9
    await report(sensor, "barn-climate-1", temperature_c=31.5, humidity_pct=70)
    await report(sensor, "barn-climate-1", temperature_c=18, humidity_pct=50)  # relief
    await report(sensor, "barn-climate-1", temperature_c=28, humidity_pct=60)  # THI 77.0

    events = await farm_events(farm, 2)
    assert [(e["kind"], e["severity"]) for e in events] == [
        ("heat_stress", "critical"),
        ("heat_stress", "warning"),
    ]
    assert events[0]["attributes"] == {
        "thi": 82.9,
        "species": "cattle",
        "temperature_c": 31.0,
        "humidity_pct": 70.0,
    }


async def test_heat_stress_uses_the_thresholds_of_the_sensors_species(
    make_farm: MakeFarm,
) -> None:
    rules = RuleSettings(species={"fold-climate": "sheep"})
    farm = await make_farm(devices=FAST_COMMANDS.model_copy(update={"rules": rules}))
    sensor = await farm.online_device("fold-climate")

    await report(sensor, "fold-climate", temperature_c=26, humidity_pct=40)  # sheep THI 23.8

    [event] = await farm_events(farm, 1)
    assert (event["severity"], event["attributes"]["species"]) == ("warning", "sheep")  # type: ignore[index]


@pytest.mark.parametrize(
    ("device_type", "values", "kind", "severity"),
    [
        ("water_trough", {"level_pct": 8.0}, "water_low", "critical"),
        ("water_trough", {"level_pct": 18.0}, "water_low", "warning"),
        ("climate", {"ammonia_ppm": 31.0}, "ammonia_high", "warning"),
        ("power_monitor", {"mains_ok": 0.0, "voltage_v": 0.0}, "power_loss", "critical"),
    ],
)
async def test_reading_past_its_threshold_raises_a_farm_event(
    farm: Farm, device_type, values, kind, severity
) -> None:
    device = await farm.online_device("dev-1", device_type)

    await report(device, "dev-1", **values)

    [event] = await farm_events(farm, 1)
    assert (event["kind"], event["severity"], event["device_id"]) == (kind, severity, "dev-1")


async def test_device_that_goes_offline_raises_a_farm_event(farm: Farm) -> None:
    device = await farm.online_device("gate-1", "gate")

    await device.drop()

    [event] = await farm_events(farm, 1)
    assert (event["kind"], event["device_id"]) == ("device_offline", "gate-1")


async def test_heat_stress_automation_turns_the_fans_on(make_farm: MakeFarm) -> None:
    cool_barn = Automation(
        name="cool-barn",
        when=FarmEventKind.HEAT_STRESS,
        then=[
            AutomationAction(device_id="barn-fan", action="set_speed", params={"speed_pct": 100})
        ],
    )
    settings: DeviceSettings = FAST_COMMANDS.model_copy(update={"automations": [cool_barn]})
    farm = await make_farm(devices=settings)
    fan = await farm.online_device("barn-fan", "fan")
    sensor = await farm.online_device("barn-climate-1")

    await report(sensor, "barn-climate-1", temperature_c=31, humidity_pct=70)

    [command] = [DeviceCommand.model_validate_json(m.payload) for m in await fan.received(1)]
    assert (command.action, command.params, command.requested_by) == (
        "set_speed",
        {"speed_pct": 100},
        "rule:cool-barn",
    )


async def test_intruder_at_night_sounds_the_siren_only_at_night(make_farm: MakeFarm) -> None:
    night = Automation(
        name="intruder-at-night",
        when=FarmEventKind.INTRUDER,
        hours=(0, 24),
        then=[AutomationAction(device_id="yard-siren", action="sound", params={"duration_s": 60})],
    )
    never = night.model_copy(update={"name": "never", "hours": (3, 3)})
    farm = await make_farm(devices=FAST_COMMANDS.model_copy(update={"automations": [never, night]}))
    siren = await farm.online_device("yard-siren", "siren")

    reply = await farm.api.post(
        "/api/v1/events",
        json={
            "correlation_id": "cam-1:intruder:yard",
            "event": {"kind": "intruder", "severity": "critical", "summary": "person in the yard"},
        },
        headers={"Authorization": "Bearer test-api-token"},
    )

    assert reply.status_code == 201
    [command] = [DeviceCommand.model_validate_json(m.payload) for m in await siren.received(1)]
    assert command.requested_by == "rule:intruder-at-night"
