"""The pre-event ring buffer: the last seconds of one camera as JPEG frames.

Frames are JPEG-encoded (and scaled down) as they enter, so 5 s at 5 fps of a 1280x720 camera
costs ~2 MB instead of ~70 MB of raw pixels. The ring is bounded by age and by count; it is
filled by the camera's reader thread and read from the event loop, hence the lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BufferedFrame:
    captured_at: float
    """`time.time()` when the camera grabbed the frame."""
    jpeg: bytes


class FrameRing:
    """The newest frames of the last `span_s` seconds, at most `max_frames` (thread-safe)."""

    def __init__(self, span_s: float, max_frames: int) -> None:
        self.span_s = span_s
        self._frames: deque[BufferedFrame] = deque(maxlen=max(1, max_frames))
        self._lock = threading.Lock()

    def push(self, frame: BufferedFrame) -> None:
        with self._lock:
            frames = self._frames
            if frames and frame.captured_at <= frames[-1].captured_at:
                return  # out of order (clock step): keep the order the clip needs
            frames.append(frame)
            horizon = frame.captured_at - self.span_s
            while frames and frames[0].captured_at < horizon:
                frames.popleft()

    def since(self, t: float) -> list[BufferedFrame]:
        """The frames captured at or after `t`, oldest first."""
        with self._lock:
            return [f for f in self._frames if f.captured_at >= t]

    def nearest(self, t: float) -> BufferedFrame | None:
        with self._lock:
            return min(self._frames, key=lambda f: abs(f.captured_at - t), default=None)

    @property
    def newest_at(self) -> float | None:
        with self._lock:
            return self._frames[-1].captured_at if self._frames else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(len(f.jpeg) for f in self._frames)
