"""Named scenes: who is on the pasture, how they move and which farm event is scripted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from appliance.scenes import layout
from appliance.scenes.errors import UnknownSceneError
from appliance.scenes.layout import ZoneSpec
from appliance.scenes.paths import Key, Path, bout_times, graze, random_point, walk
from appliance.scenes.truth import ConditionKind

Rule = Literal["leaves_zone", "enters_zone", "appears", "stops"]


@dataclass(frozen=True)
class Actor:
    track_id: int
    sprite: str
    path: Path
    down_at: float | None = None  # seconds; lies down then and stays down


@dataclass(frozen=True)
class ConditionSpec:
    """A scripted event; compose finds its start frame by applying `rule` to the truth."""

    condition: ConditionKind
    track_id: int
    rule: Rule
    zone: str | None = None


@dataclass(frozen=True)
class Plan:
    name: str
    actors: list[Actor]
    conditions: list[ConditionSpec] = field(default_factory=list)
    zones: tuple[ZoneSpec, ...] = layout.ZONES


Builder = Callable[[np.random.Generator, float], Plan]
HERD_SPRITES = ("cow_holstein", "cow_red", "cow_holstein", "cow_red")
HERD_BOUT_EVERY = (8.0, 16.0)  # seconds between the moments the herd shifts a few steps


def _herd(
    rng: np.random.Generator, seconds: float, count: int, bouts: list[float] | None = None
) -> list[Actor]:
    """Cows grazing in the pen, each in its own cell so that they overlap only partly."""
    xs = [p[0] for p in layout.PEN_GRAZE]
    columns = np.linspace(min(xs), max(xs), count + 1)
    rows = np.linspace(0.53, 0.73, count + 1)
    order = rng.permutation(count)
    if bouts is None:
        bouts = bout_times(rng, seconds, HERD_BOUT_EVERY)
    actors = []
    for i in range(count):
        x1, x2 = float(columns[order[i]]), float(columns[order[i] + 1])
        y1, y2 = float(rows[i]), float(rows[i + 1])
        cell = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
        start = random_point(rng, cell)
        keys = graze(rng, start, 0.0, seconds, cell, bouts=bouts)
        actors.append(Actor(i + 1, HERD_SPRITES[i % len(HERD_SPRITES)], Path(tuple(keys))))
    return actors


def herd_grazing(rng: np.random.Generator, seconds: float) -> Plan:
    """Cows and sheep in the pen, a horse in the pasture; they shift a few steps now and then."""
    bouts = bout_times(rng, seconds, HERD_BOUT_EVERY)
    actors = _herd(rng, seconds, 3, bouts)
    sheep_area = [(x, min(max(y, 0.52), 0.6)) for x, y in layout.PEN_GRAZE]
    for track_id in (4, 5):
        start = random_point(rng, sheep_area)
        keys = graze(rng, start, 0.0, seconds, sheep_area, reach=0.04, speed=0.02, bouts=bouts)
        actors.append(Actor(track_id, "sheep", Path(tuple(keys))))
    start = random_point(rng, layout.PASTURE_GRAZE)
    horse = graze(rng, start, 0.0, seconds, layout.PASTURE_GRAZE, bouts=bouts)
    actors.append(Actor(6, "horse_black", Path(tuple(horse))))
    return Plan("herd_grazing", actors)


def escape(rng: np.random.Generator, seconds: float) -> Plan:
    """A cow walks out of the pen through the open gate and grazes in the pasture."""
    actors = _herd(rng, seconds, 3)
    gate = layout.on_side_fence(sum(layout.GATE_SPAN) / 2)
    before = (gate[0] - 0.14, gate[1] - 0.02)
    leave, arrive = 0.25 * seconds, 0.55 * seconds
    route = [before, (gate[0] - 0.05, gate[1]), (gate[0] + 0.06, gate[1] - 0.01), (0.80, 0.64)]
    keys = [Key(0.0, *before), *_timed(walk(leave, route, 1.0), leave, arrive)]
    keys += graze(rng, route[-1], arrive, seconds, layout.PASTURE_GRAZE, reach=0.03)[1:]
    actors.append(Actor(4, "cow_red", Path(tuple(keys))))
    return Plan("escape", actors, [ConditionSpec("escape", 4, "leaves_zone", "pen")])


def intruder(rng: np.random.Generator, seconds: float) -> Plan:
    """A person walks in along the track and stops at the pen gate."""
    actors = _herd(rng, seconds, 3)
    enter, arrive, leave = 0.15 * seconds, 0.45 * seconds, 0.75 * seconds
    route = [(1.06, 0.82), (0.93, 0.74), (0.76, 0.68)]
    keys = _timed(walk(enter, route, 1.0), enter, arrive)
    back = _timed(walk(leave, [(0.76, 0.68), (0.92, 0.66), (1.06, 0.64)], 1.0), leave, seconds)
    actors.append(Actor(4, "person_red", Path((*keys, *back))))
    condition = ConditionSpec("intruder", 4, "enters_zone", "gate_apron")
    return Plan("intruder", actors, [condition])


def predator(rng: np.random.Generator, seconds: float) -> Plan:
    """A dog comes in from the right and closes on the herd at the pen fence."""
    actors = _herd(rng, seconds, 3)
    enter, near = 0.2 * seconds, 0.55 * seconds
    route = [(1.08, 0.92), (0.90, 0.85), (0.78, 0.80)]
    keys = _timed(walk(enter, route, 1.0), enter, near)
    prowl = _timed(
        walk(0.7 * seconds, [(0.78, 0.80), (0.74, 0.72)], 1.0), 0.7 * seconds, 0.85 * seconds
    )
    actors.append(Actor(4, "dog_shepherd", Path((*keys, *prowl))))
    return Plan("predator", actors, [ConditionSpec("predator", 4, "appears")])


def animal_down(rng: np.random.Generator, seconds: float) -> Plan:
    """The cow of the herd nearest the camera lies down for good a fifth of the way in (in
    full view: a cow lying hidden behind others is what no camera can tell)."""
    actors = _herd(rng, seconds, 4)
    down = actors[-1]
    stop = 0.2 * seconds
    start = down.path.at(0.0)
    spot = (start[0] + 0.05 if start[0] < 0.3 else start[0] - 0.05, start[1] + 0.01)
    keys = (Key(0.0, *start), Key(0.5 * stop, *start), Key(stop, *spot))
    actors[-1] = Actor(down.track_id, down.sprite, Path(keys), down_at=stop)
    return Plan("animal_down", actors, [ConditionSpec("animal_down", down.track_id, "stops")])


def headcount_drop(rng: np.random.Generator, seconds: float) -> Plan:
    """One cow of four wanders off the left edge of the view (out of the camera's sight,
    still outside any other zone): the pen holds fewer animals than expected."""
    actors = _herd(rng, seconds, 4)
    index = min(range(len(actors)), key=lambda i: actors[i].path.at(0.0)[0])
    gone = actors[index]
    leave, out = 0.3 * seconds, 0.3 * seconds + 8.0
    start = gone.path.at(leave)
    route = [start, (start[0] / 2, start[1] + 0.02), (-0.25, start[1] + 0.03)]
    before = tuple(k for k in gone.path.keys if k.t < leave)
    keys = (*before, *_timed(walk(leave, route, 1.0), leave, out))
    actors[index] = Actor(gone.track_id, gone.sprite, Path(keys))
    condition = ConditionSpec("headcount_drop", gone.track_id, "leaves_zone", "pen")
    return Plan("headcount_drop", actors, [condition])


TROUGH = ZoneSpec("trough", "trough", ((0.03, 0.49), (0.50, 0.49), (0.52, 0.61), (0.03, 0.61)))
# (x, front y, trough y) per cow: two depths each, so the cows overlap only partly
CROWDING_SPOTS = ((0.09, 0.74, 0.58), (0.21, 0.64, 0.52), (0.33, 0.74, 0.58), (0.45, 0.64, 0.52))


def crowding(rng: np.random.Generator, seconds: float) -> Plan:
    """Four cows graze in the middle of the pen, then walk one by one to the trough at the
    back and stay: the third one makes it crowded (more than two)."""
    actors = []
    for i, (x, front_y, trough_y) in enumerate(CROWDING_SPOTS):
        cell = [(x - 0.03, front_y - 0.02), (x + 0.03, front_y - 0.02)]
        cell += [(x + 0.03, front_y + 0.02), (x - 0.03, front_y + 0.02)]
        leave = (0.25 + 0.06 * i) * seconds
        keys = graze(rng, random_point(rng, cell), 0.0, leave, cell, reach=0.02)
        here = keys[-1]
        spot = (x + float(rng.uniform(-0.01, 0.01)), trough_y)
        walk_keys = walk(leave, [(here.x, here.y), spot], 1.0)
        keys += _timed(walk_keys, leave + 0.1, leave + 6.0)
        area = [(spot[0] - 0.02, trough_y - 0.01), (spot[0] + 0.02, trough_y - 0.01)]
        area += [(spot[0] + 0.02, trough_y + 0.01), (spot[0] - 0.02, trough_y + 0.01)]
        keys += graze(rng, spot, leave + 6.0, seconds, area, reach=0.01)[1:]
        actors.append(Actor(i + 1, HERD_SPRITES[i % len(HERD_SPRITES)], Path(tuple(keys))))
    condition = ConditionSpec("crowding", 3, "enters_zone", "trough")
    return Plan("crowding", actors, [condition], zones=(*layout.ZONES, TROUGH))


def _timed(keys: list[Key], start: float, end: float) -> list[Key]:
    """Rescale key times so the keys run from `start` to `end`."""
    span = max(keys[-1].t - keys[0].t, 1e-6)
    return [Key(start + (k.t - keys[0].t) * (end - start) / span, k.x, k.y) for k in keys]


PRESETS: dict[str, Builder] = {
    "herd_grazing": herd_grazing,
    "escape": escape,
    "intruder": intruder,
    "predator": predator,
    "animal_down": animal_down,
    "headcount_drop": headcount_drop,
    "crowding": crowding,
}


def build_plan(name: str, seed: int, seconds: float) -> Plan:
    builder = PRESETS.get(name)
    if builder is None:
        raise UnknownSceneError(f"unknown scene {name!r}; known: {', '.join(PRESETS)}")
    return builder(np.random.default_rng(seed), seconds)
