"""The composed videos open in OpenCV and their ground truth agrees with what was drawn."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from appliance.scenes import SCENES, SceneError, Settings, compose, read_truth
from appliance.scenes.compose import find_conditions
from appliance.scenes.presets import ConditionSpec
from appliance.scenes.truth import FrameTruth, ObjectBox, anchor

from .conftest import SECONDS, MakeScene

COCO_LABELS = {"cow", "sheep", "horse", "person", "dog"}


def read_frames(path: str) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    capture = cv2.VideoCapture(path)
    assert capture.isOpened()
    reported = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, reported, size


@pytest.mark.parametrize("scene", SCENES)
def test_video_opens_in_opencv_with_the_truth_frame_count_and_size(
    make_scene: MakeScene, scene: str
) -> None:
    result = make_scene(scene)
    frames, reported, size = read_frames(str(result.video))
    truth = result.truth
    assert truth.frame_count == round(SECONDS * truth.fps) == len(truth.frames)
    assert len(frames) == reported == truth.frame_count
    assert size == (truth.width, truth.height) == (640, 360)
    assert frames[0].shape == (360, 640, 3)


@pytest.mark.parametrize("scene", SCENES)
def test_boxes_stay_inside_the_frame(make_scene: MakeScene, scene: str) -> None:
    truth = make_scene(scene).truth
    boxes = [obj.bbox for frame in truth.frames for obj in frame.objects]
    assert boxes
    assert all(
        0 <= x1 < x2 <= truth.width and 0 <= y1 < y2 <= truth.height for x1, y1, x2, y2 in boxes
    )


@pytest.mark.parametrize("scene", SCENES)
def test_every_object_has_a_coco_label_and_a_known_track(make_scene: MakeScene, scene: str) -> None:
    truth = make_scene(scene).truth
    tracks = {track.track_id: track.label for track in truth.tracks}
    objects = [obj for frame in truth.frames for obj in frame.objects]
    assert {obj.label for obj in objects} <= COCO_LABELS
    assert all(tracks[obj.track_id] == obj.label for obj in objects)


@pytest.mark.parametrize("scene", SCENES)
def test_truth_file_reads_back_equal(make_scene: MakeScene, scene: str) -> None:
    result = make_scene(scene)
    assert result.truth_path.parent == result.video.parent
    assert read_truth(result.truth_path) == result.truth
    assert result.truth.video == result.video.name


def test_escaping_cow_is_in_the_pen_before_start_frame_and_out_after(make_scene: MakeScene) -> None:
    truth = make_scene("escape").truth
    (condition,) = truth.conditions
    pen = truth.zone("pen")
    boxes = truth.boxes(condition.track_id)
    assert condition.condition == "escape"
    assert 0 < condition.start_frame < truth.frame_count - 1
    assert all(
        pen.contains(anchor(box)) == (index < condition.start_frame) for index, box in boxes.items()
    )
    assert len(boxes) == truth.frame_count


def test_intruder_is_a_person_who_enters_the_restricted_zone_at_start_frame(
    make_scene: MakeScene,
) -> None:
    truth = make_scene("intruder").truth
    (condition,) = truth.conditions
    zone = truth.zone(condition.zone or "")
    boxes = truth.boxes(condition.track_id)
    inside = sorted(index for index, box in boxes.items() if zone.contains(anchor(box)))
    assert zone.kind == "restricted"
    assert inside[0] == condition.start_frame > min(boxes)
    assert {t.label for t in truth.tracks if t.track_id == condition.track_id} == {"person"}


def test_predator_dog_appears_on_the_first_frame_it_is_half_seen(make_scene: MakeScene) -> None:
    truth = make_scene("predator").truth
    (condition,) = truth.conditions
    seen = {
        frame.frame: obj.visibility
        for frame in truth.frames
        for obj in frame.objects
        if obj.track_id == condition.track_id
    }
    before = [seen[i] for i in seen if i < condition.start_frame]
    assert 0 < min(seen) < condition.start_frame  # a sliver at the edge first: not yet
    assert max(before) < 0.5 <= seen[condition.start_frame]
    assert "half" in condition.note
    assert {t.label for t in truth.tracks if t.track_id == condition.track_id} == {"dog"}


def seen_at(visibility: list[float]) -> list[FrameTruth]:
    """Frames of one dog (track 4) seen by these shares; a cow (track 1) always whole."""
    cow = ObjectBox(track_id=1, label="cow", bbox=(10, 10, 60, 50), visibility=1.0, moving=False)
    return [
        FrameTruth(
            frame=i,
            t=i / 10,
            objects=[cow, cow.model_copy(update={"track_id": 4, "label": "dog", "visibility": v})],
        )
        for i, v in enumerate(visibility)
    ]


@pytest.mark.parametrize(
    ("visibility", "start"),
    [([0.01, 0.2, 0.49, 0.5, 0.3, 1.0], 3), ([0.1, 0.7], 1), ([0.2, 0.4, 0.1], 3)],
)
def test_appears_starts_on_the_first_frame_half_of_it_is_seen(
    visibility: list[float], start: int
) -> None:
    spec = ConditionSpec("predator", 4, "appears")
    [condition] = find_conditions([spec], seen_at(visibility), [], fps=10.0)
    assert (condition.start_frame, condition.start_s) == (start, start / 10)


def test_downed_animal_never_moves_from_start_frame(make_scene: MakeScene) -> None:
    truth = make_scene("animal_down").truth
    (condition,) = truth.conditions
    moving = {
        frame.frame: obj.moving
        for frame in truth.frames
        for obj in frame.objects
        if obj.track_id == condition.track_id
    }
    assert 0 < condition.start_frame < truth.frame_count - 1
    assert moving[condition.start_frame - 1]
    assert not any(moving[i] for i in range(condition.start_frame, truth.frame_count))


def test_downed_animal_lies_in_full_view(make_scene: MakeScene) -> None:
    # the cow nearest the camera lies down: nothing hides it, as a farmer would see it
    truth = make_scene("animal_down").truth
    (condition,) = truth.conditions
    seen = [
        obj.visibility
        for frame in truth.frames[condition.start_frame :]
        for obj in frame.objects
        if obj.track_id == condition.track_id
    ]
    assert seen
    assert min(seen) >= 0.95


def test_same_seed_gives_the_same_truth_and_another_seed_does_not(
    make_scene: MakeScene, tmp_path
) -> None:
    first = make_scene("herd_grazing", seed=7).truth
    again = compose(Settings(scene="herd_grazing", seconds=SECONDS, seed=7), tmp_path).truth
    other = make_scene("herd_grazing", seed=8).truth
    assert again == first
    assert other.frames != first.frames


def test_night_variant_is_darker_with_the_same_truth(make_scene: MakeScene) -> None:
    day = make_scene("escape")
    night = make_scene("escape", night=True)
    day_frames, _, _ = read_frames(str(day.video))
    night_frames, _, _ = read_frames(str(night.video))
    assert night.video.name == "escape_night.mp4"
    assert night.truth.night
    assert night.truth.frames == day.truth.frames
    assert np.mean(night_frames) < 0.6 * np.mean(day_frames)
    blue, _, red = np.mean(night_frames, axis=(0, 1, 2))
    assert blue > red


def test_unknown_scene_is_refused(tmp_path) -> None:
    with pytest.raises(SceneError, match="unknown scene 'stampede'"):
        compose(Settings(scene="stampede", seconds=SECONDS), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "settings",
    [{"seconds": 0}, {"fps": -1}, {"width": 641}, {"height": 32}],
)
def test_unusable_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(SceneError, match="must be"):
        Settings(scene="escape", **settings)  # type: ignore[arg-type]
