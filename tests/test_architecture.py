"""Import directions between the packages, checked by parsing the source (nothing is imported)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("appliance", "sync_server", "plugins", "firmware", "cli", "contracts")

# package -> top-level repository packages it must never import
FORBIDDEN: dict[str, frozenset[str]] = {
    "appliance": frozenset({"sync_server"}),
    "sync_server": frozenset({"appliance"}),
    "contracts": frozenset({"appliance", "sync_server", "plugins", "firmware", "cli"}),
    "plugins": frozenset({"appliance", "sync_server"}),
}

# What MicroPython offers; the device code may import these and its own `firmware.*` modules.
MICROPYTHON_MODULES = frozenset(
    {
        "json",
        "time",
        "math",
        "random",
        "os",
        "sys",
        "struct",
        "binascii",
        "hashlib",
        "errno",
        "gc",
        "select",
        "socket",
        "asyncio",
        "collections",
        "re",
        "io",
        "machine",
        "network",
        "umqtt.simple",
        "umqtt.robust",
        "ujson",
        "utime",
        "ubinascii",
        "uasyncio",
        "micropython",
    }
)
DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__"})

Check = Callable[[str, str, bool], list[str]]


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _relative_base(module: str, is_package: bool, level: int) -> str:
    """The package a relative import with `level` dots starts from."""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    return ".".join(parts[: max(len(parts) - (level - 1), 0)])


def _dynamic_import(node: ast.Call) -> str | None:
    """The module named by `importlib.import_module("x")` or `__import__("x")`, if literal."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    first = node.args[0] if node.args else None
    if name in DYNAMIC_IMPORTERS and isinstance(first, ast.Constant):
        return first.value if isinstance(first.value, str) else None
    return None


def imported_modules(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """Every module `source` (the code of `module`) imports, relative imports resolved.

    Imports anywhere count: inside functions, under `if TYPE_CHECKING:`, and literal
    `importlib.import_module` / `__import__` calls.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ""
        elif isinstance(node, ast.ImportFrom):
            base = _relative_base(module, is_package, node.level)
            names = [node.module] if node.module else [alias.name for alias in node.names]
            yield from (".".join(part for part in (base, name) if part) for name in names)
        elif isinstance(node, ast.Call) and (name := _dynamic_import(node)):
            yield name


def top_level(module: str) -> str:
    return module.split(".", 1)[0]


def forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports in `source` that break the direction rules of `module`'s package."""
    forbidden = FORBIDDEN.get(top_level(module), frozenset())
    return sorted(
        name
        for name in imported_modules(source, module, is_package)
        if top_level(name) in forbidden
    )


def non_micropython_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports in firmware `source` of modules MicroPython lacks or from outside the firmware."""
    return sorted(
        name
        for name in imported_modules(source, module, is_package)
        if name not in MICROPYTHON_MODULES and top_level(name) != "firmware"
    )


def source_files(package: str, root: Path = REPO) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def violations(package: str, check: Check, root: Path = REPO) -> list[str]:
    """`<module> imports <name>` for every import in `package` that `check` objects to."""
    return [
        f"{module_name(path, root)} imports {name}"
        for path in source_files(package, root)
        for name in check(
            path.read_text(encoding="utf-8"), module_name(path, root), path.name == "__init__.py"
        )
    ]


# --- the repository ---------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_source_files_to_check(package):
    assert source_files(package)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_never_imports_the_packages_it_must_not_depend_on(package):
    assert violations(package, forbidden_imports) == []


def test_firmware_imports_only_micropython_modules_and_its_own():
    assert violations("firmware", non_micropython_imports) == []


# --- the checker itself, so that it cannot pass by seeing nothing -------------------------------


@pytest.mark.parametrize(
    ("module", "source", "found"),
    [
        pytest.param("appliance.app", "import sync_server.db", ["sync_server.db"], id="import"),
        pytest.param(
            "appliance.app", "from sync_server import ingest", ["sync_server"], id="from-import"
        ),
        pytest.param(
            "sync_server.ingest",
            "from appliance.store.events import EventStore",
            ["appliance.store.events"],
            id="central-imports-appliance",
        ),
        pytest.param("contracts.envelope", "import cli.main", ["cli.main"], id="contracts-cli"),
        pytest.param(
            "contracts.envelope",
            "from firmware.device import topics",
            ["firmware.device"],
            id="contracts-firmware",
        ),
        pytest.param(
            "contracts.envelope",
            "def load():\n    from plugins import coco\n",
            ["plugins"],
            id="import-inside-function",
        ),
        pytest.param(
            "contracts.envelope",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from appliance import app\n",
            ["appliance"],
            id="type-checking-import",
        ),
        pytest.param(
            "plugins.coco",
            "import importlib\nstore = importlib.import_module('appliance.store')\n",
            ["appliance.store"],
            id="import-module-call",
        ),
        pytest.param("plugins.coco", "db = __import__('sync_server.db')", ["sync_server.db"]),
        pytest.param(
            "appliance.store.db",
            "import os, sync_server, aiosqlite",
            ["sync_server"],
            id="one-of-several-names",
        ),
    ],
)
def test_checker_finds_a_forbidden_import(module, source, found):
    assert forbidden_imports(source, module) == found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        pytest.param(
            "appliance.app",
            "import aiohttp\nfrom contracts import EventEnvelope\nfrom .store import Database\n",
            id="appliance-own-and-contracts",
        ),
        pytest.param("appliance.store.db", "from ..sync import agent", id="relative-sibling"),
        pytest.param("contracts.registry", "from .envelope import EventEnvelope", id="contracts"),
        pytest.param("plugins.coco", "import onnxruntime\nfrom contracts import FarmEvent"),
        pytest.param("cli.main", "from appliance.app import run\nfrom sync_server.app import run"),
    ],
)
def test_checker_allows_permitted_imports(module, source):
    assert forbidden_imports(source, module) == []


@pytest.mark.parametrize(
    ("module", "is_package", "source", "found"),
    [
        ("firmware.device.topics", False, "from . import mqtt", ["firmware.device.mqtt"]),
        ("firmware.device", True, "from . import topics", ["firmware.device.topics"]),
        ("firmware.device", True, "from .topics import topic", ["firmware.device.topics"]),
        ("firmware.device.topics", False, "from .. import main", ["firmware.main"]),
        ("appliance.store.db", False, "from ..sync.agent import A", ["appliance.sync.agent"]),
        ("appliance", True, "from .app import run", ["appliance.app"]),
        (
            "appliance.app",
            False,
            "from . import keys, settings",
            ["appliance.keys", "appliance.settings"],
        ),
    ],
)
def test_checker_resolves_relative_imports(module, is_package, source, found):
    assert list(imported_modules(source, module, is_package)) == found


@pytest.mark.parametrize(
    ("source", "found"),
    [
        pytest.param("import typing", ["typing"], id="typing"),
        pytest.param("from dataclasses import dataclass", ["dataclasses"], id="dataclasses"),
        pytest.param("from __future__ import annotations", ["__future__"], id="future"),
        pytest.param("from contracts.mqtt import device_topic", ["contracts.mqtt"], id="contracts"),
        pytest.param("import umqtt", ["umqtt"], id="umqtt-package"),
        pytest.param("import paho.mqtt.client", ["paho.mqtt.client"], id="cpython-library"),
    ],
)
def test_checker_finds_a_firmware_import_micropython_lacks(source, found):
    assert non_micropython_imports(source, "firmware.device.main") == found


def test_checker_allows_micropython_modules_and_firmware_modules():
    source = (
        "import machine, network, ujson, utime\n"
        "from umqtt.simple import MQTTClient\n"
        "from firmware.device import topics\n"
        "from . import topics\n"
        "from .topics import topic\n"
    )
    assert non_micropython_imports(source, "firmware.device.main") == []


def test_checker_reports_a_forbidden_import_in_a_package_on_disk(tmp_path):
    (tmp_path / "appliance" / "sync").mkdir(parents=True)
    (tmp_path / "appliance" / "__init__.py").write_text("")
    (tmp_path / "appliance" / "sync" / "__init__.py").write_text("from . import agent\n")
    (tmp_path / "appliance" / "sync" / "agent.py").write_text("from sync_server import db\n")
    assert violations("appliance", forbidden_imports, tmp_path) == [
        "appliance.sync.agent imports sync_server"
    ]
