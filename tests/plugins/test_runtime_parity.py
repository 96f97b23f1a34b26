"""OpenVINO and ONNX Runtime agree on a real ONNX model (the heads-only SSD), and the
heads-only model with the `ssd-anchors` decoder agrees with the shipped full TF graph."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.plugin import SsdAnchorsDecoder
from plugins.base import Detector
from plugins.detectors.model import ModelDetector
from plugins.preprocess import preprocess
from tests.plugins.conftest import ALL_PHOTOS, photo
from tests.plugins.parity import disagreements


def test_farm_photos_are_all_there() -> None:
    assert len(ALL_PHOTOS) >= 9, "the parity tests run on ../shared/media/farm-photos/*.jpg"


def test_parity_runs_on_f32_openvino_and_onnxruntime(
    ssd_onnx_ort: ModelDetector, ssd_onnx_ov: ModelDetector
) -> None:
    assert (ssd_onnx_ort.runtime.precision, ssd_onnx_ort.runtime.device) == ("f32", "CPU")
    assert (ssd_onnx_ov.runtime.precision, ssd_onnx_ov.runtime.device) == ("f32", "CPU")
    assert type(ssd_onnx_ov.runtime).__name__ == "OpenVinoRuntime"
    assert type(ssd_onnx_ort.runtime).__name__ == "OnnxRuntime"


@pytest.mark.parametrize("name", ALL_PHOTOS)
def test_heads_only_ssd_detects_the_same_on_onnxruntime_and_openvino(
    ssd_onnx_ort: Detector, ssd_onnx_ov: Detector, name: str
) -> None:
    frame = photo(name)
    on_ort, on_ov = ssd_onnx_ort.infer(frame), ssd_onnx_ov.infer(frame)

    assert on_ort, f"nothing detected in {name}.jpg"
    assert disagreements(on_ort, on_ov) == []
    assert disagreements(on_ov, on_ort) == []


def test_heads_only_ssd_raw_outputs_agree_across_runtimes(
    ssd_onnx_ort: ModelDetector, ssd_onnx_ov: ModelDetector
) -> None:
    manifest = ssd_onnx_ort.bundle.manifest
    assert isinstance(manifest.decoder, SsdAnchorsDecoder)
    tensor, _ = preprocess(photo("cow"), manifest.input)
    a, b = ssd_onnx_ort.runtime.infer(tensor), ssd_onnx_ov.runtime.infer(tensor)
    for name in (manifest.decoder.scores, manifest.decoder.box_encodings, manifest.decoder.anchors):
        assert a[name].shape == b[name].shape
        diff = np.abs(a[name].astype(np.float64) - b[name].astype(np.float64))
        assert float(diff.max()) < 1e-3, name


@pytest.mark.parametrize("name", ALL_PHOTOS)
def test_heads_only_ssd_reproduces_the_full_graph_detections(
    ssd_onnx_ov: Detector, full_graph_f32: Detector, name: str
) -> None:
    frame = photo(name)
    heads, full = ssd_onnx_ov.infer(frame), full_graph_f32.infer(frame)

    assert full, f"the full graph found nothing in {name}.jpg"
    assert disagreements(heads, full) == []
    assert disagreements(full, heads) == []
