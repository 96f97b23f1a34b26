"""Model inference time on OpenVINO and ONNX Runtime: same run, same frame, same ONNX file.

    scripts/build-models && python -m bench.runtimes [--runs 50] [--cache-dir DIR]

Times `runtime.infer` on the preprocessed cow photo (pre- and post-processing excluded; the
ssd-anchors decode is reported on its own line). The runtimes take turns, one inference each,
so a busy machine slows them alike; warm-up runs are excluded.

Last line: `BENCH runtimes ov_ms=<median, heads-only ONNX on OpenVINO at its default precision>
ov_f32_ms=<the same at f32> ort_ms=<the same ONNX on ONNX Runtime> ov_ort_ratio=<ov_ms/ort_ms>
full_graph_ov_ms=<the shipped .pb (NMS inside) on OpenVINO at its default precision>`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from plugins.base import Frame
from plugins.decoders import decode_outputs
from plugins.detectors.model import ModelDetector
from plugins.errors import PluginError
from plugins.preprocess import preprocess
from plugins.registry import create
from plugins.runtimes import Tensor

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "media" / "farm-photos" / "cow.jpg"
HEADS_ONLY = REPO / "build" / "models" / "coco-ssd-mobilenet-v2-onnx"
WARMUP = 5


def load(name: str, config: dict[str, object]) -> ModelDetector:
    started = time.monotonic()
    detector = create({"type": "model", **config})
    assert isinstance(detector, ModelDetector)
    detector.load()
    runtime = detector.runtime
    print(
        f"{name}: {type(runtime).__name__} on {runtime.device} at {runtime.precision}, "
        f"loaded in {time.monotonic() - started:.1f} s"
    )
    return detector


def median_ms(samples: list[int]) -> float:
    return statistics.median(samples) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runtimes")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per runtime")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "byre" / "ov-cache",
        help="OpenVINO IR and compiled-model cache for the full graph",
    )
    args = parser.parse_args(argv)
    image = cv2.imread(str(PHOTO))
    if image is None:
        print(f"cannot read {PHOTO}", file=sys.stderr)
        return 1
    frame: Frame = np.asarray(image, dtype=np.uint8)
    heads = {"bundle": str(HEADS_ONLY)}
    try:
        detectors = {
            "ov": load("heads-only ONNX, OpenVINO default", {**heads, "runtime": "openvino"}),
            "ov_f32": load(
                "heads-only ONNX, OpenVINO f32",
                {**heads, "runtime": "openvino", "precision": "f32"},
            ),
            "ort": load("heads-only ONNX, ONNX Runtime", {**heads, "runtime": "onnxruntime"}),
            "full_graph_ov": load(
                "shipped .pb, OpenVINO default", {"cache_dir": str(args.cache_dir)}
            ),
        }
    except PluginError as err:
        print(f"{err} (run scripts/build-models first?)", file=sys.stderr)
        return 1
    inputs: dict[str, Tensor] = {
        key: preprocess(frame, d.bundle.manifest.input)[0] for key, d in detectors.items()
    }
    samples: dict[str, list[int]] = {key: [] for key in detectors}
    for i in range(WARMUP + args.runs):
        for key, detector in detectors.items():
            started = time.perf_counter_ns()
            detector.runtime.infer(inputs[key])
            if i >= WARMUP:
                samples[key].append(time.perf_counter_ns() - started)

    ort = detectors["ort"]
    outputs = ort.runtime.infer(inputs["ort"])
    manifest = ort.bundle.manifest
    placement, labels = preprocess(frame, manifest.input)[1], ort.bundle.labels()
    decode_ns = []
    for _ in range(args.runs):
        started = time.perf_counter_ns()
        decode_outputs(
            manifest.decoder,
            outputs,
            labels=labels,
            thresholds=manifest.thresholds,
            placement=placement,
            input_size=(manifest.input.width, manifest.input.height),
        )
        decode_ns.append(time.perf_counter_ns() - started)
    print(f"ssd-anchors decode + NMS: {median_ms(decode_ns):.2f} ms")

    fastest = ", ".join(f"{key} {min(values) / 1e6:.1f}" for key, values in samples.items())
    print(f"fastest run, ms (a guide to uncontended speed on a busy machine): {fastest}")
    ms = {key: median_ms(values) for key, values in samples.items()}
    print(
        f"BENCH runtimes ov_ms={ms['ov']:.1f} ov_f32_ms={ms['ov_f32']:.1f} ort_ms={ms['ort']:.1f} "
        f"ov_ort_ratio={ms['ov'] / ms['ort']:.2f} full_graph_ov_ms={ms['full_graph_ov']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
