"""The scene composer imports nothing from the rest of the appliance."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import appliance.scenes

ALLOWED_THIRD_PARTY = {"cv2", "numpy", "pydantic"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_scenes_import_only_numpy_opencv_pydantic_and_themselves() -> None:
    package = Path(appliance.scenes.__file__).parent
    found = set().union(*(imports(path) for path in package.glob("*.py")))
    outside = {
        name
        for name in found
        if not name.startswith("appliance.scenes")
        and name.split(".")[0] not in ALLOWED_THIRD_PARTY | sys.stdlib_module_names
    }
    assert outside == set()
