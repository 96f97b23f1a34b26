"""Camera health: offline, frozen, dark, blocked and moved, debounced into events.

A condition becomes active after it held for its `*_after_s` and clears after it has been gone
for `clear_after_s`; each change is one `CameraHealthEvent` (`offline` with `active=False` is the
"recovered" event).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum

from appliance.camera.analysis import FrameStats
from appliance.camera.settings import HealthSettings


class CameraCondition(StrEnum):
    OFFLINE = "offline"
    """The source cannot be opened or delivers no frames."""
    FROZEN = "frozen"
    """Frames keep coming but the picture does not change at all."""
    DARK = "dark"
    """The view is very dark (outside the night allowance)."""
    BLOCKED = "blocked"
    """The view is flat and featureless: lens covered, pointed at a wall or the sky."""
    MOVED = "moved"
    """The view no longer looks like the reference view taken at setup."""


@dataclass(frozen=True, slots=True)
class CameraHealthEvent:
    camera_id: str
    condition: CameraCondition
    active: bool
    """True when the condition starts, False when it clears."""
    detail: str
    """One line for people, with the measurement behind the change."""
    at: datetime
    """UTC time of the change."""


class Debouncer:
    """A condition that must hold for `activate_after` to activate and be gone for
    `clear_after` to clear."""

    def __init__(self, activate_after: float, clear_after: float) -> None:
        self.activate_after = activate_after
        self.clear_after = clear_after
        self.active = False
        self._held_since: float | None = None
        self._gone_since: float | None = None

    def update(self, raw: bool, now: float, since: float | None = None) -> bool | None:
        """Feed the raw state seen at `now` (held since `since`, if known); returns the new
        state when it changed, else None."""
        if raw:
            self._gone_since = None
            if self.active:
                return None
            if self._held_since is None:
                self._held_since = now if since is None else since
            if now - self._held_since >= self.activate_after:
                self.active = True
                self._held_since = None
                return True
            return None
        self._held_since = None
        if not self.active:
            return None
        if self._gone_since is None:
            self._gone_since = now
        if now - self._gone_since >= self.clear_after:
            self.active = False
            self._gone_since = None
            return False
        return None


def _local_time() -> time:
    return datetime.now().time()


class HealthMonitor:
    """Turns frame measurements and frame arrival into debounced health events."""

    def __init__(
        self,
        camera_id: str,
        settings: HealthSettings,
        started_mono: float,
        local_time: Callable[[], time] = _local_time,
    ) -> None:
        self.camera_id = camera_id
        self.settings = settings
        self._started = started_mono
        self._local_time = local_time
        s = settings
        self._states = {
            CameraCondition.OFFLINE: Debouncer(s.offline_after_s, s.clear_after_s),
            CameraCondition.FROZEN: Debouncer(s.frozen_after_s, s.clear_after_s),
            CameraCondition.DARK: Debouncer(s.dark_after_s, s.clear_after_s),
            CameraCondition.BLOCKED: Debouncer(s.blocked_after_s, s.clear_after_s),
            CameraCondition.MOVED: Debouncer(s.moved_after_s, s.clear_after_s),
        }

    @property
    def active(self) -> frozenset[CameraCondition]:
        return frozenset(c for c, state in self._states.items() if state.active)

    def on_tick(
        self, last_frame_mono: float | None, now: float, last_error: str | None = None
    ) -> list[CameraHealthEvent]:
        """Check frame arrival (call a few times a second, frames or not)."""
        since = self._started if last_frame_mono is None else last_frame_mono
        silent = now - since
        raw = silent >= self.settings.offline_after_s
        changed = self._states[CameraCondition.OFFLINE].update(raw, now, since)
        if changed is None:
            return []
        if changed:
            reason = f": {last_error}" if last_error else ""
            detail = f"no frames for {silent:.1f} s{reason}"
        else:
            detail = "frames are arriving again"
        return [self._event(CameraCondition.OFFLINE, changed, detail)]

    def on_frame(self, stats: FrameStats, now: float) -> list[CameraHealthEvent]:
        """Check one looked-at frame's measurements."""
        s = self.settings
        dark_limit, flat_limit = s.dark_brightness, s.blocked_contrast
        night = s.night is not None and s.night.covers(self._local_time())
        if s.night is not None and night:
            dark_limit, flat_limit = s.night.dark_brightness, s.night.blocked_contrast
        dark = stats.brightness < dark_limit
        blocked = not dark and stats.contrast < flat_limit
        when = " at night" if night else ""
        frozen_diff, similarity = stats.frozen_diff, stats.view_similarity
        checks: list[tuple[CameraCondition, bool | None, str]] = [
            (
                CameraCondition.FROZEN,
                None if frozen_diff is None else frozen_diff <= s.frozen_max_diff,
                f"difference between frames {frozen_diff or 0.0:.2f} "
                f"(frozen at or below {s.frozen_max_diff:g})",
            ),
            (
                CameraCondition.DARK,
                dark,
                f"brightness {stats.brightness:.1f} (dark below {dark_limit:g}{when})",
            ),
            (
                CameraCondition.BLOCKED,
                blocked,
                f"contrast {stats.contrast:.1f} (blocked below {flat_limit:g}{when})",
            ),
            (
                CameraCondition.MOVED,
                None
                if similarity is None or dark or blocked
                else similarity < s.moved_min_similarity,
                f"similarity to the reference view {similarity or 0.0:.2f} "
                f"(moved below {s.moved_min_similarity:g})",
            ),
        ]
        events = []
        for condition, raw, detail in checks:
            if raw is None:
                continue
            changed = self._states[condition].update(raw, now)
            if changed is not None:
                events.append(self._event(condition, changed, detail))
        return events

    def reset(self, condition: CameraCondition) -> list[CameraHealthEvent]:
        """Forget a condition (a new reference view was set); clears it if it was active."""
        state = self._states[condition]
        was_active = state.active
        self._states[condition] = Debouncer(state.activate_after, state.clear_after)
        return [self._event(condition, False, "reference view replaced")] if was_active else []

    def _event(self, condition: CameraCondition, active: bool, detail: str) -> CameraHealthEvent:
        return CameraHealthEvent(self.camera_id, condition, active, detail, datetime.now(UTC))
