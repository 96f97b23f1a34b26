"""Settings of one camera: where its frames come from, how often they are looked at, health.

A section the appliance settings can embed as a list (`cameras = [...]`); unknown keys are errors.
`parse_camera_settings` turns validation errors into one `CameraSettingsError` that names the
camera and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance.camera.errors import CameraSettingsError
from contracts.ids import Identifier

_USB_DEVICE = re.compile(r"^(\d{1,3}|/dev/video\d{1,3})$")
_SNAPSHOT_HINT = re.compile(r"(\.jpe?g$|snapshot|snap\.cgi|/jpg/|image\.cgi)", re.IGNORECASE)


class CameraKind(StrEnum):
    RTSP = "rtsp"
    MJPEG = "mjpeg"
    SNAPSHOT = "snapshot"
    FILE = "file"
    USB = "usb"


def infer_kind(url: str) -> CameraKind:
    """The kind a URL most likely is: rtsp://, http(s) MJPEG or snapshot, USB index, file."""
    lower = url.lower()
    if lower.startswith(("rtsp://", "rtsps://")):
        return CameraKind.RTSP
    if lower.startswith(("http://", "https://")):
        path = lower.split("?", 1)[0]
        return CameraKind.SNAPSHOT if _SNAPSHOT_HINT.search(path) else CameraKind.MJPEG
    if _USB_DEVICE.match(url):
        return CameraKind.USB
    return CameraKind.FILE


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MotionSettings(_Section):
    """Frame differencing that decides which frames are worth inference."""

    width: int = Field(
        default=160, ge=32, le=640, description="Width (px) frames are shrunk to before diffing."
    )
    blur: int = Field(
        default=5,
        ge=1,
        le=21,
        description="Gaussian blur kernel (odd, px at the shrunk size) that hides sensor noise; "
        "1 turns blurring off.",
    )
    pixel_threshold: int = Field(
        default=25,
        ge=1,
        le=254,
        description="Grey-level change (0-255) above which a shrunk pixel counts as changed.",
    )
    min_changed_fraction: float = Field(
        default=0.002,
        gt=0,
        le=1,
        description="Share of changed pixels that counts as motion and sends the frame to "
        "inference (0.002 is ~29 px of a 160x90 image).",
    )

    @field_validator("blur")
    @classmethod
    def _blur_is_odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("blur must be an odd number")
        return value


class NightAllowance(_Section):
    """Local hours in which a dark or flat view is normal (no infrared, lights off)."""

    start: time = Field(default=time(21, 0), description="Local time the night starts (HH:MM).")
    end: time = Field(
        default=time(6, 0),
        description="Local time the night ends (HH:MM); before `start` means past midnight; "
        "equal to `start` means always night.",
    )
    dark_brightness: float = Field(
        default=0.0,
        ge=0,
        le=255,
        description="Mean grey level below which the view counts as dark at night (0: never).",
    )
    blocked_contrast: float = Field(
        default=0.0,
        ge=0,
        le=128,
        description="Grey-level standard deviation below which the view counts as blocked at "
        "night (0: never).",
    )

    def covers(self, moment: time) -> bool:
        """Whether `moment` (local time of day) falls into the night."""
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class HealthSettings(_Section):
    """When a camera counts as offline, frozen, dark, blocked or moved, and when it recovers."""

    offline_after_s: float = Field(
        default=10.0, gt=0, description="No frame for this long makes the camera `offline`."
    )
    frozen_after_s: float = Field(
        default=20.0,
        gt=0,
        description="Identical frames for this long while the stream runs make it `frozen`.",
    )
    frozen_max_diff: float = Field(
        default=0.25,
        ge=0,
        le=255,
        description="Mean absolute difference (grey levels, on a sparse pixel sample) between "
        "consecutive looked-at frames below which they count as identical.",
    )
    dark_after_s: float = Field(
        default=30.0, gt=0, description="A dark view for this long makes the camera `dark`."
    )
    dark_brightness: float = Field(
        default=20.0,
        ge=0,
        le=255,
        description="Mean grey level (0-255) below which the view counts as dark.",
    )
    blocked_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A flat, featureless (not dark) view for this long makes it `blocked`.",
    )
    blocked_contrast: float = Field(
        default=6.0,
        ge=0,
        le=128,
        description="Grey-level standard deviation below which the view counts as blocked "
        "(lens covered, pointed at a wall or the sky).",
    )
    night: NightAllowance | None = Field(
        default=None,
        description="Hours with their own (usually lower) dark/blocked thresholds; none by "
        "default.",
    )
    moved_after_s: float = Field(
        default=20.0,
        gt=0,
        description="A view unlike the reference for this long makes the camera `moved`.",
    )
    moved_min_similarity: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Edge-map similarity to the reference frame (0-1) below which the view "
        "counts as moved.",
    )
    check_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the frozen, dark and blocked measurements are taken (motion is "
        "measured on every looked-at frame).",
    )
    moved_check_interval_s: float = Field(
        default=2.0, gt=0, description="How often the view is compared with the reference."
    )
    reference_image: Path | None = Field(
        default=None,
        description="Reference view (an image file saved at setup); when unset, the first "
        "usable frame after start is the reference.",
    )
    clear_after_s: float = Field(
        default=5.0,
        ge=0,
        description="A condition clears after it has been gone for this long (frames again, "
        "view back to normal).",
    )


class ReconnectSettings(_Section):
    """Reopening a source that failed, and the watchdog for reads that hang."""

    initial_s: float = Field(default=0.5, gt=0, description="First delay before reopening.")
    max_s: float = Field(
        default=30.0, gt=0, description="Longest delay (it doubles per failed attempt)."
    )
    jitter: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter].",
    )
    open_timeout_s: float = Field(
        default=10.0, gt=0, description="FFmpeg's timeout to open a stream."
    )
    read_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="FFmpeg's timeout (and the snapshot request timeout) for one frame.",
    )
    stall_after_s: float = Field(
        default=15.0,
        gt=0,
        description="Watchdog: a read (or an open, on top of `open_timeout_s`) blocked this long "
        "is abandoned and the source reopened in a fresh thread.",
    )
    max_hung_threads: int = Field(
        default=2,
        ge=0,
        le=16,
        description="Abandoned threads still blocked, per camera, beyond which the watchdog "
        "logs and waits instead of starting another.",
    )

    @model_validator(mode="after")
    def _delays_ordered(self) -> ReconnectSettings:
        if self.max_s < self.initial_s:
            raise ValueError("max_s must be >= initial_s")
        return self


class CameraSettings(_Section):
    """One camera: source, rates, motion gating, health and reconnects."""

    id: Identifier = Field(
        description="Camera id (letters, digits, `_`, `-`; at most 64): used in events and topics."
    )
    url: str = Field(
        min_length=1,
        description="rtsp://… stream, http(s)://… MJPEG stream or snapshot URL, a video file "
        "path, or a USB camera (index like `0`, or `/dev/video0`). Credentials may be in the URL; "
        "logs redact them.",
    )
    kind: CameraKind | None = Field(
        default=None, description="Source kind; inferred from `url` when unset."
    )
    fps: float | None = Field(
        default=None,
        gt=0,
        le=120,
        description="Frames per second a file plays at (default: the file's own rate) or a "
        "snapshot URL is polled at (default 1); live streams deliver at their own rate.",
    )
    realtime: bool = Field(
        default=True,
        description="Files: play at `fps` like a live camera (True) or as fast as frames "
        "decode (False).",
    )
    detect_fps: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Frames per second looked at by the motion gate (and health checks).",
    )
    min_inference_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="Longest time without inference even when nothing moves, so an animal "
        "that stands still is still seen.",
    )
    moving_inference_interval_s: float = Field(
        default=0.4,
        gt=0,
        description="Longest time without inference while a tracked animal or person is on the "
        "move (it may be crossing a zone edge), even when the frames change little.",
    )
    motion: MotionSettings = Field(
        default_factory=MotionSettings, description="Motion gate thresholds."
    )
    health: HealthSettings = Field(
        default_factory=HealthSettings, description="Camera health thresholds."
    )
    reconnect: ReconnectSettings = Field(
        default_factory=ReconnectSettings, description="Reconnect backoff and watchdog."
    )

    @model_validator(mode="after")
    def _kind_matches_url(self) -> CameraSettings:
        if self.kind is None:
            self.kind = infer_kind(self.url)
            return self
        lower = self.url.lower()
        problem = {
            CameraKind.RTSP: not lower.startswith(("rtsp://", "rtsps://")),
            CameraKind.MJPEG: not lower.startswith(("http://", "https://")),
            CameraKind.SNAPSHOT: not lower.startswith(("http://", "https://")),
            CameraKind.USB: not _USB_DEVICE.match(self.url),
            CameraKind.FILE: "://" in self.url,
        }[self.kind]
        if problem:
            raise ValueError(f"kind {self.kind.value!r} does not fit url {redact_url(self.url)!r}")
        return self

    @property
    def source_kind(self) -> CameraKind:
        """The kind, resolved (the validator fills it in)."""
        return self.kind or infer_kind(self.url)

    @property
    def display_url(self) -> str:
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """The URL without the password of its user part (`rtsp://user:***@host/…`)."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", url)


def parse_camera_settings(data: Mapping[str, Any]) -> CameraSettings:
    """Validate one camera's settings; the error names the camera, each key and the reason."""
    try:
        return CameraSettings.model_validate(data)
    except ValidationError as err:
        name = data.get("id") if isinstance(data.get("id"), str) else "?"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()
        )
        raise CameraSettingsError(f"camera {name}: {problems}") from err
