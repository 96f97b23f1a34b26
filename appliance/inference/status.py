"""What the runner reports: each plugin's state, and the events its supervisor emits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

EventKind = Literal[
    "ready", "crashed", "hung", "restarted", "quarantined", "failed", "replaced", "refused"
]


class PluginState(StrEnum):
    LOADING = "loading"  # worker starting or loading the plugin
    READY = "ready"  # serving requests
    CRASHED = "crashed"  # worker died or was killed; a restart is pending
    QUARANTINED = "quarantined"  # crashed too often; not restarted until released
    FAILED = "failed"  # config invalid or load failed; not restarted
    STOPPED = "stopped"  # the runner is not running


@dataclass(frozen=True)
class PluginStatus:
    name: str
    type: str
    state: PluginState
    reason: str = ""
    pid: int | None = None
    crashes_in_window: int = 0
    restarts: int = 0
    dropped: int = 0  # requests the worker dropped because their deadline had passed


@dataclass(frozen=True)
class RunnerEvent:
    """A change the appliance turns into a camera/system event."""

    kind: EventKind
    plugin: str
    detail: str
    at: float = field(default_factory=time.time)
