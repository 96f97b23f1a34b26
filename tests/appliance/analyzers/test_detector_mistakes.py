"""The analyzers on composed scenes whose boxes carry a real detector's mistakes: animals
missed for seconds (new track ids), boxes cut short behind a fence or another animal, part
boxes inside an animal, and a dark horse called a dog."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.analyzers.counts import CrowdingConfig, HeadcountConfig
from appliance.analyzers.down import AnimalDownConfig
from appliance.analyzers.escape import EscapeConfig
from appliance.analyzers.intruders import IntruderConfig, PredatorConfig
from appliance.analyzers.registry import AnalyzerSettings
from appliance.scenes.truth import ObjectBox, SceneTruth
from contracts import FarmEventKind
from tests.appliance.analyzers.replay import Alert, Edit, make_scene, replay


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenes")


def hidden(track_id: int, start: float, end: float) -> Edit:
    def edit(t: float, objects: list[ObjectBox]) -> list[ObjectBox]:
        return [o for o in objects if not (o.track_id == track_id and start <= t < end)]

    return edit


def of_kind(alerts: list[Alert], kind: FarmEventKind) -> list[Alert]:
    return [a for a in alerts if a.finding.event.kind is kind]


def test_animal_down_is_one_case_through_a_long_detection_gap(scenes: Path) -> None:
    truth = make_scene("animal_down", scenes, seconds=40)
    [condition] = truth.conditions
    gap = (condition.start_s + 6.0, condition.start_s + 18.0)  # longer than any track is kept

    alerts = replay(truth, [AnimalDownConfig(lying_s=3.0)], edit=hidden(condition.track_id, *gap))

    assert {a.finding.correlation_id for a in alerts} == {alerts[0].finding.correlation_id}
    assert -0.2 <= alerts[0].t - (condition.start_s + 3.0) <= 1.0
    after = [a.t for a in alerts if a.t >= gap[1]]
    assert after
    assert after[0] <= gap[1] + 1.0  # still down at once, not after another hold


def test_escape_is_one_case_when_the_cow_comes_back_under_a_new_track(scenes: Path) -> None:
    truth = make_scene("escape", scenes, seconds=40)
    [condition] = truth.conditions
    gap = (condition.start_s + 2.5, condition.start_s + 6.0)  # the tracker drops it

    alerts = replay(truth, [EscapeConfig()], edit=hidden(condition.track_id, *gap))

    assert {a.finding.correlation_id for a in alerts} == {alerts[0].finding.correlation_id}
    assert -0.2 <= alerts[0].t - condition.start_s <= 1.5  # clearly past the fence
    assert any(a.t >= gap[1] for a in alerts)


def cut_at_fence(truth: SceneTruth, track_id: int, start: float) -> Edit:
    """From `start` on, only the top of the animal shows: its box ends just above the pen."""
    pen = truth.zone("pen")
    fence = min(y for _, y in pen.polygon)

    def edit(t: float, objects: list[ObjectBox]) -> list[ObjectBox]:
        out = []
        for o in objects:
            if o.track_id == track_id and t >= start:
                x1, y1, x2, _ = o.bbox
                bottom = fence - round(0.02 * truth.height)
                o = o.model_copy(update={"bbox": (x1, min(y1, bottom - 10), x2, bottom)})
            out.append(o)
        return out

    return edit


def test_a_cow_cut_short_at_the_back_fence_has_not_escaped(scenes: Path) -> None:
    truth = make_scene("herd_grazing", scenes)
    back = min(
        (o for o in truth.frames[0].objects if o.label == "cow"), key=lambda o: o.bbox[3]
    ).track_id

    alerts = replay(truth, [EscapeConfig()], edit=cut_at_fence(truth, back, 5.0))

    assert alerts == []


def test_headcount_reports_no_drop_of_a_herd_never_seen_whole(scenes: Path) -> None:
    truth = make_scene("headcount_drop", scenes, seconds=40)
    never_all = HeadcountConfig(expected={"pen": 5}, hold_s=5.0)  # four cows ever in view
    assert replay(truth, [never_all]) == []
    alerts = replay(truth, [HeadcountConfig(expected={"pen": 4}, hold_s=5.0)])
    assert {a.finding.event.kind for a in alerts} == {FarmEventKind.HEADCOUNT_DROP}


def with_part_box(track_id: int, start: float) -> Edit:
    """From `start` on, the detector also boxes the animal's front half."""

    def edit(t: float, objects: list[ObjectBox]) -> list[ObjectBox]:
        out = list(objects)
        for o in objects:
            if o.track_id == track_id and t >= start:
                x1, y1, x2, y2 = o.bbox
                half = o.model_copy(update={"track_id": 99, "bbox": (x1, y1, (x1 + x2) // 2, y2)})
                out.append(half)
        return out

    return edit


def test_a_part_box_does_not_make_a_crowd(scenes: Path) -> None:
    truth = make_scene("crowding", scenes, seconds=40)
    [condition] = truth.conditions
    config = CrowdingConfig(max_animals={"trough": 2}, hold_s=5.0)
    first_at_trough = 1  # the first cow to walk to the trough (two are not a crowd)

    alerts = replay(truth, [config], edit=with_part_box(first_at_trough, 0.0))

    assert alerts
    assert -1.0 <= alerts[0].t - (condition.start_s + 5.0) <= 1.0


def test_crowding_holds_through_a_cow_missed_for_a_moment(scenes: Path) -> None:
    truth = make_scene("crowding", scenes, seconds=40)
    [condition] = truth.conditions
    config = CrowdingConfig(max_animals={"trough": 2}, hold_s=5.0)
    blink = hidden(condition.track_id, condition.start_s + 2.0, condition.start_s + 2.4)

    alerts = replay(truth, [config], edit=blink)

    assert alerts
    assert -1.0 <= alerts[0].t - (condition.start_s + 5.0) <= 1.0


def horse_called_dog(t: float, objects: list[ObjectBox]) -> list[ObjectBox]:
    return [o.model_copy(update={"label": "dog"}) if o.label == "horse" else o for o in objects]


def test_a_dog_as_tall_as_the_cows_beside_it_is_no_predator(scenes: Path) -> None:
    truth = make_scene("herd_grazing", scenes)
    assert replay(truth, [PredatorConfig()], edit=horse_called_dog) == []
    dogs_any_size = PredatorConfig(herd_height_share={})
    assert {
        a.finding.event.kind for a in replay(truth, [dogs_any_size], edit=horse_called_dog)
    } == {FarmEventKind.PREDATOR}


@pytest.mark.parametrize(
    ("scene", "config"), [("intruder", IntruderConfig()), ("predator", PredatorConfig())]
)
def test_a_person_or_dog_seen_again_under_a_new_track_is_the_same_case(
    scenes: Path, scene: str, config: AnalyzerSettings
) -> None:
    truth = make_scene(scene, scenes, seconds=40)
    [condition] = truth.conditions
    first = replay(truth, [config])[0].t
    gap = (first + 1.0, first + 5.0)  # the tracker drops it

    alerts = replay(truth, [config], edit=hidden(condition.track_id, *gap))

    assert any(a.t >= gap[1] for a in alerts)
    assert {a.finding.correlation_id for a in alerts} == {alerts[0].finding.correlation_id}
