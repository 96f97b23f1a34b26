"""How the UI is served: the page and its files with a strict Content-Security-Policy,
nothing outside the static folder, and every text in both languages."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import httpx
import pytest

from appliance.devices.commands import SagaState
from appliance.vision.zones import ZoneKind
from appliance.web.ui import STATIC_DIR
from contracts import FarmEventKind, IncidentState, Severity
from contracts.devices import COMMANDS, DeviceType
from tests.conftest import MakeAppliance

TEXTS = {
    lang: json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "ru")
}
SCRIPTS = sorted((STATIC_DIR / "js").rglob("*.js"))


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html"),
        ("/static/js/main.js", "text/javascript"),
        ("/static/app.css", "text/css"),
        ("/static/i18n/ru.json", "application/json"),
    ],
)
async def test_ui_files_are_served_with_a_strict_csp(
    make_appliance: MakeAppliance, path: str, content_type: str
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        reply = await client.get(path)

    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith(content_type)
    assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    assert "script-src 'self';" in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/ui.py",
        "/static/..%2fui.py",
        "/static/js/../../ui.py",
        "/static/nothing.js",
        "/static/i18n",
    ],
)
async def test_nothing_outside_the_static_files_is_served(
    make_appliance: MakeAppliance, path: str
) -> None:
    appliance = await make_appliance()
    async with httpx.AsyncClient(base_url=appliance.url) as client:
        reply = await client.get(path)

    assert reply.status_code == 404


def test_both_languages_have_the_same_texts_and_none_is_empty() -> None:
    assert TEXTS["en"].keys() == TEXTS["ru"].keys()
    assert [k for lang in TEXTS.values() for k, v in lang.items() if not v.strip()] == []


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_every_text_key_a_script_uses_exists(script: Path) -> None:
    used = set(re.findall(r"\bt\(\"([a-z_.0-9]+)\"", script.read_text()))

    assert sorted(used - TEXTS["en"].keys()) == []


def test_every_enum_value_the_ui_shows_has_a_text() -> None:
    needed = (
        [f"kind.{k.value}" for k in FarmEventKind]
        + [f"state.{s.value}" for s in IncidentState]
        + [f"severity.{s.value}" for s in Severity]
        + [f"device_type.{d.value}" for d in DeviceType]
        + [f"saga.{s.value}" for s in SagaState]
        + [f"zone_kind.{k}" for k in typing.get_args(ZoneKind)]
        + [f"action.{a}" for actions in COMMANDS.values() for a in actions]
    )

    assert sorted(set(needed) - TEXTS["en"].keys()) == []
