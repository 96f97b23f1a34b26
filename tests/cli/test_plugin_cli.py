"""`byre plugin verify`: a good bundle is summarised, a bad one refused naming the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from plugins.detectors.model import SHIPPED_BUNDLE

runner = CliRunner()


def test_shipped_bundle_verifies_with_its_summary() -> None:
    result = runner.invoke(app, ["plugin", "verify", str(SHIPPED_BUNDLE)])
    assert result.exit_code == 0, result.output
    assert "coco-ssd-mobilenet-v2 1.0.0: ok" in result.output
    assert "tf-ssd" in result.output
    assert "300x300 NHWC RGB" in result.output


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("labels.txt", "labels.txt: sha256"),
        ("manifest.json", "manifest.json"),
    ],
)
def test_damaged_bundle_is_refused_naming_the_file(
    tmp_path: Path, damage: str, message: str
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, bundle)
    target = bundle / damage
    target.write_bytes(target.read_bytes()[:-20])
    result = runner.invoke(app, ["plugin", "verify", str(bundle)])
    assert result.exit_code == 2
    assert "refused:" in result.output
    assert message in result.output


def test_missing_bundle_is_refused() -> None:
    result = runner.invoke(app, ["plugin", "verify", "/nonexistent/bundle"])
    assert result.exit_code == 2
    assert "cannot read manifest" in result.output


def test_plugin_group_lists_verify_and_bench() -> None:
    result = runner.invoke(app, ["plugin", "--help"])
    assert result.exit_code == 0
    assert "verify" in result.output
    assert "bench" in result.output
