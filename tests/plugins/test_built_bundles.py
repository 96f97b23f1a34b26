"""The bundles scripts/build-models writes: present, verified, described; and the tool's logic."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from contracts.plugin import BundleFile, InputSpec, PluginManifest, Yolov8Decoder
from plugins.bundle import load_bundle, sha256_file
from plugins.tools import build_models
from plugins.tools.errors import BuildError
from tests.plugins.conftest import require_bundle


def test_built_bundles_are_present_and_verify(built_bundles: dict[str, Path]) -> None:
    ssd = load_bundle(built_bundles["ssd-onnx"]).manifest
    yolo = load_bundle(built_bundles["yolov8"]).manifest

    assert (ssd.runtime, ssd.decoder.type, ssd.input.dtype) == (
        "onnxruntime",
        "ssd-anchors",
        "float32",
    )
    assert (yolo.decoder.type, yolo.input.layout, yolo.input.resize) == (
        "yolov8",
        "NCHW",
        "letterbox",
    )
    assert "AGPL-3.0" in yolo.licence
    assert "never shipped" in yolo.licence
    assert len(load_bundle(built_bundles["yolov8"]).labels()) == 18


def test_missing_bundle_fails_telling_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="run scripts/build-models"):
        require_bundle(tmp_path / "not-built")


def test_nudenet_labels_are_read_from_its_source() -> None:
    source = 'import os\n__labels = [\n    "A",\n    "B",\n]\nother = ["x"]\n'
    assert build_models.nudenet_labels(source) == ["A", "B"]


def test_nudenet_source_without_labels_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="no `__labels"):
        build_models.nudenet_labels("labels = ['A']\n")


def test_ssd_cache_key_follows_the_source_and_the_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    key = build_models.ssd_key("a" * 64)
    assert build_models.ssd_key("a" * 64) == key
    assert build_models.ssd_key("b" * 64) != key
    monkeypatch.setattr(build_models, "TF2ONNX", "9.9.9")
    assert build_models.ssd_key("a" * 64) != key


def make_manifest(model: Path, labels: Path) -> PluginManifest:
    return PluginManifest(
        name="tiny",
        version="1.0.0",
        runtime="onnxruntime",
        model="model.onnx",
        labels="labels.txt",
        files=[
            BundleFile(path="model.onnx", sha256=sha256_file(model)),
            BundleFile(path="labels.txt", sha256=sha256_file(labels)),
        ],
        input=InputSpec(width=32, height=32),
        decoder=Yolov8Decoder(),
        licence="test data",
    )


def test_install_bundle_writes_once_then_leaves_an_up_to_date_bundle_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "model.onnx").write_bytes(b"weights")
    (cache / "labels.txt").write_text("cow\n")
    files = {name: cache / name for name in ("model.onnx", "labels.txt")}
    manifest = make_manifest(files["model.onnx"], files["labels.txt"])
    target = tmp_path / "out" / "tiny"

    first = build_models.install_bundle(target, files, manifest, {}, force=False, cache=cache)
    written = (target / "manifest.json").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="build-models"):
        second = build_models.install_bundle(target, files, manifest, {}, force=False, cache=cache)

    assert (first, second) == (True, False)
    assert load_bundle(target).manifest == manifest
    assert (target / "manifest.json").stat().st_mtime_ns == written
    assert "is up to date" in caplog.text


def test_install_bundle_rebuilds_a_bundle_whose_file_was_damaged(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "model.onnx").write_bytes(b"weights")
    (source / "labels.txt").write_text("cow\n")
    files = {name: source / name for name in ("model.onnx", "labels.txt")}
    manifest = make_manifest(files["model.onnx"], files["labels.txt"])
    target = tmp_path / "out" / "tiny"
    build_models.install_bundle(target, files, manifest, {}, force=False, cache=tmp_path / "c")

    (target / "model.onnx").write_bytes(b"damaged")
    rebuilt = build_models.install_bundle(
        target, files, manifest, {}, force=False, cache=tmp_path / "c"
    )

    assert rebuilt
    assert (target / "model.onnx").read_bytes() == b"weights"
    assert (source / "model.onnx").read_bytes() == b"weights"  # copied, not linked
