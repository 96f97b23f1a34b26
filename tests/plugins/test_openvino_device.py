"""OpenVINO device choice with fallback to CPU, and the precision option."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from plugins.errors import PluginError
from plugins.registry import create
from plugins.runtimes.openvino_rt import choose_device, named_devices
from tests.plugins.conftest import make_detector


@pytest.mark.parametrize(
    ("device", "named"),
    [
        ("CPU", ["CPU"]),
        ("GPU.1", ["GPU.1"]),
        ("AUTO", []),
        ("AUTO:GPU,CPU", ["GPU", "CPU"]),
        ("AUTO:-NPU", []),
        ("HETERO:GPU,CPU", ["GPU", "CPU"]),
        ("MULTI:GPU(4),CPU(2)", ["GPU", "CPU"]),
    ],
)
def test_device_string_names_the_physical_devices_it_needs(device: str, named: list[str]) -> None:
    assert named_devices(device) == named


@pytest.mark.parametrize(
    ("device", "available", "chosen"),
    [
        ("CPU", ["CPU"], "CPU"),
        ("GPU", ["CPU", "GPU.0", "GPU.1"], "GPU"),
        ("GPU.1", ["CPU", "GPU.0", "GPU.1"], "GPU.1"),
        ("AUTO", ["CPU"], "AUTO"),
        ("AUTO:GPU,CPU", ["CPU", "GPU"], "AUTO:GPU,CPU"),
        ("GPU", ["CPU"], "CPU"),
        ("NPU", ["CPU", "GPU"], "CPU"),
        ("AUTO:GPU,CPU", ["CPU"], "CPU"),
        ("HETERO:GPU,CPU", ["CPU"], "CPU"),
    ],
)
def test_device_falls_back_to_cpu_when_it_is_not_on_this_machine(
    device: str, available: list[str], chosen: str
) -> None:
    assert choose_device(device, available) == chosen


@pytest.mark.parametrize("device", ["GPU", "AUTO:GPU,CPU", "NPU"])
def test_detector_on_a_missing_device_runs_on_cpu_and_says_so(
    built_bundles: dict[str, Path], caplog: pytest.LogCaptureFixture, device: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="plugins.runtimes.openvino_rt"):
        detector = make_detector(built_bundles["yolov8"], runtime="openvino", device=device)

    assert detector.runtime.device == "CPU"
    assert f"OpenVINO device {device} is not available here" in caplog.text


def test_detector_falls_back_to_cpu_when_the_device_fails_to_compile(
    built_bundles: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    # Plain MULTI passes the availability check but OpenVINO refuses it without a device list.
    with caplog.at_level(logging.WARNING, logger="plugins.runtimes.openvino_rt"):
        detector = make_detector(built_bundles["yolov8"], runtime="openvino", device="MULTI")

    assert detector.runtime.device == "CPU"
    assert "OpenVINO cannot compile on MULTI" in caplog.text


def test_auto_device_is_kept_when_openvino_can_use_it(built_bundles: dict[str, Path]) -> None:
    detector = make_detector(built_bundles["yolov8"], runtime="openvino", device="AUTO")
    assert detector.runtime.device == "AUTO"


def test_openvino_runs_at_the_requested_precision(built_bundles: dict[str, Path]) -> None:
    detector = make_detector(built_bundles["yolov8"], runtime="openvino", precision="f32")
    assert detector.runtime.precision == "f32"


@pytest.mark.parametrize("precision", ["bf16", "f16"])
def test_onnxruntime_refuses_a_precision_it_cannot_run(
    built_bundles: dict[str, Path], precision: str
) -> None:
    detector = create(
        {"type": "model", "bundle": str(built_bundles["yolov8"]), "precision": precision}
    )
    with pytest.raises(PluginError, match="ONNX Runtime runs f32 only"):
        detector.load()


def test_unknown_precision_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="precision"):
        create({"type": "model", "precision": "int8"})
