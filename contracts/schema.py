"""JSON Schema export of every wire message, for HQ consumers of the bus and API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.base import SCHEMA_VERSION
from contracts.registry import MESSAGES

SCHEMA_BASE_URI = "https://schemas.byre.farm"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one message."""
    schema = MESSAGES[name].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"{SCHEMA_BASE_URI}/v{SCHEMA_VERSION}/{name}.schema.json"
    return schema


def export_schemas(directory: Path) -> list[Path]:
    """Write `<Message>.schema.json` for every message; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(MESSAGES):
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
