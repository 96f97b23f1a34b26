"""Plugin discovery: built-in modules plus the `byre.plugins` entry-point group.

A plugin module that fails to import (say OpenVINO is missing on a board) is logged and
skipped instead of taking the appliance down.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from plugins.base import Detector
from plugins.errors import PluginError

log = logging.getLogger(__name__)

BUILTIN_MODULES: list[str] = ["plugins.detectors.model"]
ENTRY_POINT_GROUP = "byre.plugins"


def discover(extra_modules: list[str] | None = None) -> dict[str, type[Detector]]:
    """Every importable detector class by key."""
    found: dict[str, type[Detector]] = {}
    names = [*BUILTIN_MODULES, *(extra_modules or [])]
    names += [ep.value.split(":", 1)[0] for ep in entry_points(group=ENTRY_POINT_GROUP)]
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - any import failure skips that plugin
            log.warning("plugin module %s skipped: %r", name, err)
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Detector) and value is not Detector:
                key = getattr(value, "key", None)
                if isinstance(key, str):
                    found[key] = value
    return found


def create(raw_config: dict[str, Any], extra_modules: list[str] | None = None) -> Detector:
    """Build (not load) the plugin named by `raw_config["type"]`."""
    available = discover(extra_modules)
    key = raw_config.get("type")
    if not isinstance(key, str) or key not in available:
        raise PluginError(f"unknown plugin type {key!r}; available: {sorted(available)}")
    cls = available[key]
    return cls(cls.parse_config(raw_config))
