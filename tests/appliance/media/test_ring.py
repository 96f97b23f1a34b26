"""The pre-event ring buffer and the camera tap: bounded by age and count, JPEG, at `fps`."""

from __future__ import annotations

import math

import numpy as np

from appliance.camera.frames import Frame
from appliance.media.buffer import RING_SLACK_S, CameraBuffer
from appliance.media.ring import BufferedFrame, FrameRing
from tests.appliance.media.conftest import (
    HEIGHT,
    WIDTH,
    decode_image,
    make_media_settings,
    scene_frame,
)

T0 = 1_700_000_000.0


def feed(buffer: CameraBuffer, seconds: float, source_fps: float, start: int = 0) -> int:
    """Hand the tap `seconds` of a `source_fps` camera; returns the next frame number."""
    count = round(seconds * source_fps)
    for i in range(start, start + count):
        t = i / source_fps
        buffer.on_frame(Frame(scene_frame(i % 60), i + 1, T0 + t, 1000.0 + t))
    return start + count


def test_ring_drops_frames_older_than_its_span() -> None:
    ring = FrameRing(span_s=2.0, max_frames=1000)
    for i in range(100):
        ring.push(BufferedFrame(T0 + i * 0.1, b"x"))
    kept = ring.since(0)
    assert kept[-1].captured_at == T0 + 99 * 0.1
    assert kept[-1].captured_at - kept[0].captured_at <= 2.0
    assert len(kept) == 21


def test_ring_never_holds_more_than_max_frames() -> None:
    ring = FrameRing(span_s=3600.0, max_frames=5)
    for i in range(50):
        ring.push(BufferedFrame(T0 + i, b"x"))
    assert len(ring) == 5
    assert [f.captured_at for f in ring.since(0)] == [T0 + i for i in range(45, 50)]


def test_ring_ignores_frames_that_go_back_in_time() -> None:
    ring = FrameRing(span_s=10.0, max_frames=10)
    ring.push(BufferedFrame(T0 + 5, b"a"))
    ring.push(BufferedFrame(T0 + 4, b"b"))
    assert [f.jpeg for f in ring.since(0)] == [b"a"]


def test_tap_keeps_frames_at_the_recording_rate_as_jpeg() -> None:
    settings = make_media_settings(pre_s=2.0, fps=5.0)
    buffer = CameraBuffer("cam1", settings, [])
    feed(buffer, seconds=10.0, source_fps=25.0)
    frames = buffer.ring.since(0)
    # 5 fps over the ring's span (pre_s plus slack), never more than its bound
    bound = math.ceil((settings.pre_s + RING_SLACK_S) * settings.fps) + 2
    assert (settings.pre_s + RING_SLACK_S) * settings.fps - 1 <= len(frames) <= bound
    gaps = np.diff([f.captured_at for f in frames])
    assert np.allclose(gaps, 0.2, atol=0.041)
    image = decode_image(frames[0].jpeg)
    assert image.shape == (HEIGHT, WIDTH, 3)


def test_tap_memory_stays_bounded_however_long_it_runs() -> None:
    buffer = CameraBuffer("cam1", make_media_settings(pre_s=1.0, fps=5.0), [])
    start = feed(buffer, seconds=5.0, source_fps=10.0)
    after_short = (len(buffer.ring), buffer.ring.nbytes)
    feed(buffer, seconds=30.0, source_fps=10.0, start=start)
    assert len(buffer.ring) <= after_short[0] + 1
    raw = HEIGHT * WIDTH * 3 * len(buffer.ring)
    assert buffer.ring.nbytes < raw / 5  # JPEG, not raw pixels


def test_tap_scales_wide_frames_down() -> None:
    buffer = CameraBuffer("cam1", make_media_settings(max_width=160), [])
    buffer.on_frame(Frame(scene_frame(0), 1, T0, 1000.0))
    (frame,) = buffer.ring.since(0)
    image = decode_image(frame.jpeg)
    assert image.shape == (120, 160, 3)


def test_collector_gets_the_pre_event_frames_and_every_new_one_once() -> None:
    buffer = CameraBuffer("cam1", make_media_settings(pre_s=1.0, fps=5.0), [])
    start = feed(buffer, seconds=3.0, source_fps=10.0)
    collector = buffer.start_collecting(T0 + 2.0)
    before = len(collector.frames)
    feed(buffer, seconds=2.0, source_fps=10.0, start=start)
    frames = buffer.stop_collecting(collector)
    times = [f.captured_at for f in frames]
    assert before >= 4
    assert times == sorted(set(times))
    assert times[0] >= T0 + 2.0
    assert len(frames) == before + 10
    feed(buffer, seconds=1.0, source_fps=10.0, start=start + 20)
    assert len(collector.frames) == len(frames)  # stopped: no more frames
