"""Bundles are verified before a runtime sees them; bad ones are refused by name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plugins.bundle import MANIFEST, load_bundle
from plugins.errors import BundleError

MODEL = b"not really a model, but bytes with a hash"
LABELS = b"\nperson\ncow\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_manifest(**changes: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "name": "test-bundle",
        "version": "1.2.3",
        "runtime": "onnxruntime",
        "model": "model.onnx",
        "labels": "labels.txt",
        "files": [
            {"path": "model.onnx", "sha256": sha(MODEL), "size": len(MODEL)},
            {"path": "labels.txt", "sha256": sha(LABELS)},
        ],
        "input": {"width": 64, "height": 64},
        "decoder": {"type": "yolov8"},
        "report": ["cow"],
        "licence": "test data",
    }
    manifest.update(changes)
    return manifest


def make_bundle(root: Path, manifest: dict[str, Any] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(MODEL)
    (root / "labels.txt").write_bytes(LABELS)
    (root / MANIFEST).write_text(json.dumps(manifest or make_manifest()))
    return root


def test_valid_bundle_loads(tmp_path: Path) -> None:
    bundle = load_bundle(make_bundle(tmp_path / "b"))
    assert bundle.manifest.name == "test-bundle"
    assert bundle.labels() == ["", "person", "cow"]


def corrupt_model(root: Path) -> None:
    (root / "model.onnx").write_bytes(MODEL[:-1] + b"X")


def truncate_model(root: Path) -> None:
    (root / "model.onnx").write_bytes(MODEL[:10])


def delete_labels(root: Path) -> None:
    (root / "labels.txt").unlink()


def break_manifest_json(root: Path) -> None:
    (root / MANIFEST).write_text("{not json")


def delete_manifest(root: Path) -> None:
    (root / MANIFEST).unlink()


def write(manifest: dict[str, Any]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / MANIFEST).write_text(json.dumps(manifest))

    return damage


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (corrupt_model, r"model\.onnx: sha256 .* does not match"),
        (truncate_model, r"model\.onnx: size 10 bytes, manifest says"),
        (delete_labels, r"labels\.txt: file is missing"),
        (break_manifest_json, r"manifest\.json: .*JSON"),
        (delete_manifest, r"cannot read manifest"),
        (write(make_manifest(runtime="tensorflow")), r"runtime: Input should be"),
        (write(make_manifest(model="other.onnx")), r"model file 'other\.onnx' is not listed"),
        (write(make_manifest(report=["unicorn"])), r"report lists unknown labels \['unicorn'\]"),
        (write(make_manifest(version="one")), r"version: String should match"),
        (write(make_manifest(files=[{"path": "../x", "sha256": "0" * 64}])), r"files\.0\.path"),
        (write(make_manifest(extra=1)), r"extra: Extra inputs"),
    ],
)
def test_bad_bundle_is_refused_naming_the_problem(
    tmp_path: Path, damage: Callable[[Path], None], message: str
) -> None:
    root = make_bundle(tmp_path / "b")
    damage(root)
    with pytest.raises(BundleError, match=message):
        load_bundle(root)


def test_shipped_bundle_verifies() -> None:
    from plugins.detectors.model import SHIPPED_BUNDLE

    bundle = load_bundle(SHIPPED_BUNDLE)
    assert bundle.manifest.runtime == "openvino"
    assert bundle.labels()[21] == "cow"
