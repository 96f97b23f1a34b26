"""Each analyzer on the composed scenes, against the scenes' ground truth."""

from __future__ import annotations

import itertools
from datetime import time
from pathlib import Path

import pytest

from appliance.analyzers.counts import CrowdingConfig, HeadcountConfig
from appliance.analyzers.down import AnimalDownConfig
from appliance.analyzers.escape import EscapeConfig
from appliance.analyzers.intruders import IntruderConfig, PredatorConfig
from appliance.analyzers.registry import AnalyzerSettings
from contracts import FarmEventKind
from tests.appliance.analyzers.replay import make_scene, replay

ALL: list[AnalyzerSettings] = [
    EscapeConfig(),
    IntruderConfig(),
    PredatorConfig(),
    AnimalDownConfig(lying_s=3.0),
]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenes")


@pytest.mark.parametrize(
    ("scene", "kind", "delay_s"),
    [
        ("escape", FarmEventKind.ESCAPE, 0.0),
        ("intruder", FarmEventKind.INTRUDER, 0.0),
        ("predator", FarmEventKind.PREDATOR, 0.0),
        ("animal_down", FarmEventKind.ANIMAL_DOWN, 3.0),
    ],
)
def test_scripted_condition_is_reported_promptly_and_nothing_else(
    scenes: Path, scene: str, kind: FarmEventKind, delay_s: float
) -> None:
    truth = make_scene(scene, scenes)
    [condition] = truth.conditions

    alerts = replay(truth, ALL)
    first = {a.finding.event.kind: a.t for a in reversed(alerts)}

    assert set(first) == {kind}
    latency = first[kind] - (condition.start_s + delay_s)
    # at most one 5 fps frame early (float sums of frame times: 1e-9), tracker confirmation
    # and zone debounce late
    assert -0.2 - 1e-9 <= latency <= 1.0


def test_quiet_herd_raises_no_alert(scenes: Path) -> None:
    truth = make_scene("herd_grazing", scenes)
    assert replay(truth, ALL) == []


def test_holding_condition_is_repeated_at_the_configured_interval(scenes: Path) -> None:
    truth = make_scene("escape", scenes, seconds=40)
    alerts = replay(truth, [EscapeConfig(repeat_s=5.0)])
    times = [a.t for a in alerts]
    assert len({a.finding.correlation_id for a in alerts}) == 1
    assert len(times) >= 3
    assert all(4.8 <= b - a <= 5.4 for a, b in itertools.pairwise(times))


def test_person_anywhere_after_hours_is_an_intruder(scenes: Path) -> None:
    truth = make_scene("intruder", scenes)
    config = IntruderConfig(restricted_kinds=[], working_hours=(time(6), time(20)))
    by_day = replay(truth, [config])
    at_night = replay(truth, [config], night=True)
    assert by_day == []
    assert {a.finding.event.kind for a in at_night} == {FarmEventKind.INTRUDER}


def test_headcount_drop_in_the_pen_after_hold(scenes: Path) -> None:
    truth = make_scene("escape", scenes)
    [condition] = truth.conditions
    in_pen = 4  # every cow starts in the pen
    alerts = replay(truth, [HeadcountConfig(expected={"pen": in_pen}, hold_s=2.0)])
    assert alerts
    assert alerts[0].finding.event.kind is FarmEventKind.HEADCOUNT_DROP
    assert alerts[0].t >= condition.start_s + 2.0


def test_crowding_needs_more_than_the_limit(scenes: Path) -> None:
    truth = make_scene("herd_grazing", scenes)
    assert replay(truth, [CrowdingConfig(max_animals={"pasture": 10}, hold_s=1.0)]) == []
    crowded = replay(truth, [CrowdingConfig(max_animals={"pasture": 0}, hold_s=1.0)])
    assert {a.finding.event.kind for a in crowded} == {FarmEventKind.CROWDING}


@pytest.mark.parametrize(
    ("scene", "config"),
    [
        ("headcount_drop", HeadcountConfig(expected={"pen": 4}, hold_s=5.0)),
        ("crowding", CrowdingConfig(max_animals={"trough": 2}, hold_s=5.0)),
    ],
)
def test_count_rules_fire_on_their_scene_after_the_hold_and_nothing_else(
    scenes: Path, scene: str, config: AnalyzerSettings
) -> None:
    truth = make_scene(scene, scenes, seconds=40)
    [condition] = truth.conditions

    alerts = replay(truth, [*ALL, config])

    assert {a.finding.event.kind for a in alerts} == {FarmEventKind(condition.condition)}
    latency = alerts[0].t - (condition.start_s + 5.0)
    assert -1.0 <= latency <= 1.0


def test_count_rules_stay_quiet_on_the_quiet_herd(scenes: Path) -> None:
    truth = make_scene("herd_grazing", scenes)
    configs: list[AnalyzerSettings] = [
        HeadcountConfig(expected={"pen": 3}, labels=["cow"], hold_s=5.0),
        CrowdingConfig(max_animals={"gate": 2}, hold_s=5.0),
    ]
    assert replay(truth, configs) == []
