"""Frames in shared memory: one ring of slots per camera, created and unlinked by the appliance.

The appliance side uses `multiprocessing.shared_memory`, so its resource tracker unlinks the
segments even if the appliance itself dies. The worker maps a segment read-only straight from
/dev/shm instead: attaching through `SharedMemory` in Python 3.11 registers the segment with
the worker's own resource tracker, which would unlink the appliance's segment when the worker
crashes.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import secrets
from collections import OrderedDict
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

SHM_DIR = Path("/dev/shm")


def segment_prefix(pid: int | None = None) -> str:
    """Names of this process's frame segments start with this (leak checks look for it)."""
    return f"byre-{os.getpid() if pid is None else pid}-"


class FrameRing:
    """`slots` frame buffers of `slot_bytes` each in one segment; a slot is busy until the
    worker has answered for it (or died), never merely until the caller gave up."""

    def __init__(self, slots: int, slot_bytes: int) -> None:
        self.slots = slots
        self.slot_bytes = slot_bytes
        self.shm = SharedMemory(
            name=segment_prefix() + secrets.token_hex(6), create=True, size=slots * slot_bytes
        )
        self._free: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(slots):
            self._free.put_nowait(slot)
        self.retired = False
        self.closed = False

    @property
    def name(self) -> str:
        return self.shm.name

    @property
    def busy(self) -> int:
        return self.slots - self._free.qsize()

    async def acquire(self) -> int:
        """A free slot; waits while every slot is in flight."""
        return await self._free.get()

    def release(self, slot: int) -> None:
        self._free.put_nowait(slot)
        if self.retired and self.busy == 0:
            self.close()

    def write(
        self, slot: int, frame: NDArray[np.uint8], size: tuple[int, int] | None = None
    ) -> int:
        """Copy `frame` into `slot`, resized to `size` (width, height) if given, as the
        plugin's own first resize would (bilinear); returns the slot's byte offset."""
        offset = slot * self.slot_bytes
        height, width = frame.shape[:2]
        if size is None or size == (width, height):
            view: NDArray[np.uint8] = np.ndarray(
                frame.shape, dtype=np.uint8, buffer=self.shm.buf, offset=offset
            )
            np.copyto(view, frame)
        else:
            view = np.ndarray(
                (size[1], size[0], 3), dtype=np.uint8, buffer=self.shm.buf, offset=offset
            )
            cv2.resize(frame, size, dst=view, interpolation=cv2.INTER_LINEAR)
        del view  # no buffer export may outlive the call, or close() fails
        return offset

    def retire(self) -> None:
        """Stop using this ring; it closes as soon as no slot is in flight."""
        self.retired = True
        if self.busy == 0:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.shm.close()
        self.shm.unlink()


class SegmentMaps:
    """Worker side: read-only maps of the appliance's segments, the most recent few kept."""

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep
        self._maps: OrderedDict[str, mmap.mmap] = OrderedDict()

    def frame(self, name: str, offset: int, shape: tuple[int, int, int]) -> NDArray[np.uint8]:
        """A read-only view of one frame; raises ValueError if it does not fit the segment."""
        segment = self._map(name)
        size = shape[0] * shape[1] * shape[2]
        if min(shape) <= 0 or offset + size > len(segment):
            raise ValueError(f"frame {shape} at offset {offset} exceeds segment {name}")
        return np.ndarray(shape, dtype=np.uint8, buffer=segment, offset=offset)

    def _map(self, name: str) -> mmap.mmap:
        if name in self._maps:
            self._maps.move_to_end(name)
            return self._maps[name]
        if "/" in name or name.startswith("."):
            raise ValueError(f"bad segment name {name!r}")
        fd = os.open(SHM_DIR / name, os.O_RDONLY)
        try:
            segment = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self._maps[name] = segment
        while len(self._maps) > self.keep:
            # dropped, not closed: a plugin may still hold a view; the map goes with the last one
            self._maps.popitem(last=False)
        return segment
