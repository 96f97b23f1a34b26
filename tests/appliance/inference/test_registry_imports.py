"""A worker imports only what its plugin type needs (the model runtimes cost ~38 MB)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.appliance.inference.conftest import TEST_PLUGINS

PROBE = """
import sys
from plugins import registry
detector = registry.create({{"type": "{kind}"}}, extra_modules=["{extra}"])
sys.stdout.write(f"{{type(detector).__name__}} {{'plugins.detectors.model' in sys.modules}}")
"""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("fake-boxes", "FakeBoxes False"), ("model", "ModelDetector True")],
)
def test_create_imports_the_model_module_only_for_the_model_type(kind: str, expected: str) -> None:
    probe = PROBE.format(kind=kind, extra=TEST_PLUGINS)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == expected


UNKNOWN_PROBE = """
import sys
from plugins import registry
from plugins.errors import PluginError
try:
    registry.create({"type": "nope"}, extra_modules=[sys.argv[1]])
except PluginError as err:
    sys.stdout.write(str(err))
"""


def test_unknown_type_still_lists_every_plugin() -> None:
    done = subprocess.run(
        [sys.executable, "-c", UNKNOWN_PROBE, TEST_PLUGINS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "unknown plugin type 'nope'" in done.stdout
    assert "'model'" in done.stdout
    assert "'fake-boxes'" in done.stdout
