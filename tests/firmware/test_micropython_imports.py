"""The firmware imports and runs in an interpreter that offers only MicroPython's modules.

A fresh interpreter replaces `__import__` so that code in `firmware` may import only the
modules MicroPython has (the allowlist of tests/test_architecture.py) and its own modules;
it then imports every firmware module and runs a device's loop against a closed port.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_architecture import MICROPYTHON_MODULES, REPO, module_name, source_files

FIRMWARE_MODULES = sorted(module_name(p, REPO) for p in source_files("firmware"))

RESTRICTED = """
import builtins, json, sys, tempfile, os
allowed = set(sys.argv[1].split(","))
real_import = builtins.__import__
refused = []

def guarded(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if importer.startswith("firmware") and level == 0:
        if name not in allowed and name.split(".")[0] != "firmware":
            refused.append(name)
            raise ImportError(f"{name} is not a MicroPython module")
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = guarded
for module in sys.argv[2].split(","):
    __import__(module)
if sys.argv[3] == "run":
    from firmware.device.programs import PROGRAMS, make_program
    from firmware.device.runtime import Device
    from firmware.device.settings import Settings
    from firmware.sim.physics import make_board
    directory = tempfile.mkdtemp()
    for device_type in PROGRAMS:
        path = os.path.join(directory, device_type + ".json")
        with open(path, "w") as f:
            json.dump({"device_id": "d-1", "device_type": device_type, "username": "d-1",
                       "password": "x", "port": 9, "backoff_min_s": 0.01}, f)
        board = make_board(device_type, 1, 0.0)
        device = Device(Settings.load(path), make_program(device_type, board))
        device.step(1.0)  # connection refused: backs off
        assert not device.connected and device.next_attempt > 1.0
        device.program.telemetry(2.0)
        device.program.state()
print("refused:" + ",".join(refused))
"""


def run_restricted(modules: list[str], mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            RESTRICTED,
            ",".join(sorted(MICROPYTHON_MODULES)),
            ",".join(modules),
            mode,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def test_every_firmware_module_imports_and_runs_with_only_micropython_modules() -> None:
    result = run_restricted(FIRMWARE_MODULES, "run")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "refused:"


@pytest.mark.parametrize("forbidden", ["typing", "dataclasses", "threading"])
def test_restricted_interpreter_refuses_what_micropython_lacks(tmp_path: Path, forbidden) -> None:
    package = tmp_path / "firmware"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text(f"import {forbidden}\n")

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RESTRICTED,
            ",".join(sorted(MICROPYTHON_MODULES)),
            "firmware.bad",
            "import-only",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )

    assert result.returncode != 0
    assert f"{forbidden} is not a MicroPython module" in result.stderr
