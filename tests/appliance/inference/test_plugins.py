"""Detector plugins for the runner's tests (loaded by workers via `extra_modules`).

Each answers with one detection describing the frame it saw: its size and CRC-32 in the label,
so a test can tell the frame crossed shared memory intact. The misbehaving ones act up on a
"marked" frame (pixel (0, 0) pure red, see `mark`) or on every frame, as configured.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import time
import zlib
from typing import Literal

import numpy as np
from pydantic import Field

from contracts.vision import Detection
from plugins.base import Detector, Frame, FrameFit, PluginConfig
from plugins.errors import PluginError

MARK = (0, 0, 255)  # BGR red
Trigger = Literal["marked", "always"]


def describe(frame: Frame) -> Detection:
    height, width, _ = frame.shape
    crc = zlib.crc32(np.ascontiguousarray(frame).data)
    return Detection(
        label=f"{width}x{height}-{crc:08x}", class_id=0, score=1.0, x1=0.0, y1=0.0, x2=1.0, y2=1.0
    )


def expected_label(frame: Frame) -> str:
    return describe(frame).label


def mark(frame: Frame) -> Frame:
    marked = frame.copy()
    marked[0, 0] = MARK
    return marked


def triggered(frame: Frame, trigger: Trigger) -> bool:
    return trigger == "always" or tuple(int(v) for v in frame[0, 0]) == MARK


class FakeBoxesConfig(PluginConfig):
    type: Literal["fake-boxes"] = "fake-boxes"
    fail_load: bool = Field(default=False, description="Refuse to load (a missing model).")
    fit: Literal["stretch", "letterbox"] | None = Field(
        default=None, description="Declare a 320x240 first resize (frames may come pre-sized)."
    )


class FakeBoxes(Detector):
    key = "fake-boxes"
    config_model = FakeBoxesConfig

    def load(self) -> None:
        assert isinstance(self.config, FakeBoxesConfig)
        if self.config.fail_load:
            raise PluginError("model file fake.onnx is missing")

    def infer(self, frame: Frame) -> list[Detection]:
        return [describe(frame)]

    def frame_fit(self) -> FrameFit | None:
        assert isinstance(self.config, FakeBoxesConfig)
        return None if self.config.fit is None else FrameFit(320, 240, self.config.fit)


class AbortConfig(PluginConfig):
    type: Literal["abort"] = "abort"
    trigger: Trigger = "marked"


class Abort(Detector):
    key = "abort"
    config_model = AbortConfig

    def load(self) -> None:
        pass

    def infer(self, frame: Frame) -> list[Detection]:
        assert isinstance(self.config, AbortConfig)
        if triggered(frame, self.config.trigger):
            os.abort()
        return [describe(frame)]


class HangConfig(PluginConfig):
    type: Literal["hang"] = "hang"
    trigger: Trigger = "marked"
    how: Literal["sleep", "freeze"] = Field(
        default="sleep",
        description="`sleep` forever in infer (heartbeats go on), or `freeze` the whole "
        "process with SIGSTOP (heartbeats stop too).",
    )


class Hang(Detector):
    key = "hang"
    config_model = HangConfig

    def load(self) -> None:
        pass

    def infer(self, frame: Frame) -> list[Detection]:
        assert isinstance(self.config, HangConfig)
        if triggered(frame, self.config.trigger):
            if self.config.how == "freeze":
                os.kill(os.getpid(), signal.SIGSTOP)
            while True:
                time.sleep(3600)
        return [describe(frame)]


class SlowConfig(PluginConfig):
    type: Literal["slow"] = "slow"
    delay_s: float = Field(default=0.5, ge=0, description="Seconds each infer sleeps.")


class Slow(Detector):
    key = "slow"
    config_model = SlowConfig

    def load(self) -> None:
        pass

    def infer(self, frame: Frame) -> list[Detection]:
        assert isinstance(self.config, SlowConfig)
        time.sleep(self.config.delay_s)
        return [describe(frame)]


class RaisesConfig(PluginConfig):
    type: Literal["raises"] = "raises"


class Raises(Detector):
    key = "raises"
    config_model = RaisesConfig

    def load(self) -> None:
        pass

    def infer(self, frame: Frame) -> list[Detection]:
        if triggered(frame, "marked"):
            raise ValueError("cannot make sense of this frame")
        return [describe(frame)]


class GilLoadConfig(PluginConfig):
    type: Literal["gil-load"] = "gil-load"
    hold_s: int = Field(default=3, ge=0, description="Seconds load() holds the GIL.")


class GilLoad(Detector):
    """Loads like a runtime converting a model: one long native call that keeps the GIL, so
    the worker's heartbeat thread cannot speak meanwhile."""

    key = "gil-load"
    config_model = GilLoadConfig

    def load(self) -> None:
        assert isinstance(self.config, GilLoadConfig)
        libc = ctypes.PyDLL(ctypes.util.find_library("c"))  # PyDLL: the call keeps the GIL
        libc.sleep(self.config.hold_s)

    def infer(self, frame: Frame) -> list[Detection]:
        return [describe(frame)]
