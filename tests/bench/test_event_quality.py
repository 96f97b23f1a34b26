"""How the event-quality bench judges farm events against the scripted conditions."""

from __future__ import annotations

from dataclasses import replace

from bench.event_quality import Case, ScenarioResult, judge
from bench.farm_scenes import HOLD_S, quality_scenarios, scenario


def result() -> ScenarioResult:
    return ScenarioResult(scenario("escape", False, 1, 150.0), 150.0, 0, 1.0)


def test_event_of_the_scripted_kind_in_time_is_found() -> None:
    judged = result()
    judge(judged, [("escape", 40.0)], [Case("cam:escape:pen:4", "escape", 40.6, "Cow out")])
    assert judged.found == ["escape +0.6s"]
    assert judged.missed == []
    assert judged.false == []


def test_late_or_wrong_kind_is_missed_and_false() -> None:
    judged = result()
    cases = [
        Case("cam:escape:pen:4", "escape", 60.0, "Cow out"),  # 20 s late
        Case("cam:predator:7", "predator", 41.0, "Dog near the herd"),
    ]
    judge(judged, [("escape", 40.0)], cases)
    assert judged.missed == ["escape"]
    assert judged.duplicates == [cases[0]]  # the same kind after the start is not false
    assert judged.false == [cases[1]]


def test_hold_rules_are_expected_after_their_hold() -> None:
    judged = result()
    early = Case("cam:headcount:pen", "headcount_drop", 41.0, "3 of 4")
    judge(judged, [("headcount_drop", 40.0)], [early])
    assert judged.missed == ["headcount_drop"]
    judged = result()
    judge(judged, [("headcount_drop", 40.0)], [replace(early, first_s=40.0 + HOLD_S)])
    assert judged.found == ["headcount_drop +0.0s"]


def test_scenarios_cover_day_night_every_event_and_an_hour() -> None:
    scenarios = quality_scenarios()
    presets = {s.preset for s in scenarios}
    assert {"escape", "intruder", "predator", "animal_down", "headcount_drop", "crowding"} < presets
    assert {s.night for s in scenarios} == {False, True}
    assert sum(s.seconds for s in scenarios) >= 3600
