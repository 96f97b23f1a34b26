"""Errors of the vision stage (filters, night profile, tracker, zones)."""

from __future__ import annotations

from pydantic import ValidationError

from appliance.errors import ApplianceError


def describe(err: ValidationError, zone_names: dict[int, str] | None = None) -> str:
    """Problems joined by `; `, each `key.path: reason`; zones named when their names are known."""
    names = zone_names or {}
    problems = []
    for e in err.errors():
        loc = list(e["loc"])
        if len(loc) > 1 and loc[0] == "zones" and isinstance(loc[1], int) and loc[1] in names:
            loc[1] = f"[{names[loc[1]]!r}]"
        path = ".".join(str(p) for p in loc).replace(".[", "[") or "(root)"
        problems.append(f"{path}: {e['msg']}")
    return "; ".join(problems)


class VisionError(ApplianceError):
    """Base of every vision error."""


class VisionConfigError(VisionError):
    """Filter, profile, tracker or zone settings are invalid; the message names what and why."""


class ZoneConfigError(VisionConfigError):
    """A zone polygon is invalid; the message names the zone."""


class TrackerError(VisionError):
    """The tracker was fed input it cannot use (e.g. a timestamp that goes backwards)."""
