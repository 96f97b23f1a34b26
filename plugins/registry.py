"""Plugin discovery: built-in modules plus the `byre.plugins` entry-point group.

A plugin module that fails to import (say OpenVINO is missing on a board) is logged and
skipped instead of taking the appliance down. `create` imports only what the requested type
needs: a built-in key imports its own module, any other key the extra modules and entry
points, so a worker hosting a small plugin does not carry the model runtimes (~38 MB).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from plugins.base import Detector
from plugins.errors import PluginError

log = logging.getLogger(__name__)

BUILTINS: dict[str, str] = {"model": "plugins.detectors.model"}  # key -> module
BUILTIN_MODULES: list[str] = sorted(set(BUILTINS.values()))
ENTRY_POINT_GROUP = "byre.plugins"


def discover(extra_modules: list[str] | None = None) -> dict[str, type[Detector]]:
    """Every importable detector class by key."""
    return _scan([*BUILTIN_MODULES, *_external(extra_modules)])


def create(raw_config: dict[str, Any], extra_modules: list[str] | None = None) -> Detector:
    """Build (not load) the plugin named by `raw_config["type"]`."""
    key = raw_config.get("type")
    if isinstance(key, str) and key in BUILTINS:
        available = _scan([BUILTINS[key]])
    else:
        available = _scan(_external(extra_modules))
    if not isinstance(key, str) or key not in available:
        available = discover(extra_modules)  # the full list, for the message
        raise PluginError(f"unknown plugin type {key!r}; available: {sorted(available)}")
    cls = available[key]
    return cls(cls.parse_config(raw_config))


def _external(extra_modules: list[str] | None) -> list[str]:
    names = list(extra_modules or [])
    names += [ep.value.split(":", 1)[0] for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return names


def _scan(names: list[str]) -> dict[str, type[Detector]]:
    found: dict[str, type[Detector]] = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - any import failure skips that plugin
            log.warning("plugin module %s skipped: %r", name, err)
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Detector) and value is not Detector:
                value_key = getattr(value, "key", None)
                if isinstance(value_key, str):
                    found[value_key] = value
    return found
