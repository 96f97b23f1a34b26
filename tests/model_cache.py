"""The shipped detector's converted and compiled model cache, shared by every test that loads it.

Converting the shipped SSD to OpenVINO IR takes a minute or two on a busy machine, compiling
the IR tens of seconds; from the cache a load takes seconds. `scripts/build-models` puts the
IR into build/ (`python -m tests.model_cache`), outside any test deadline, converting only when
~/.cache/byre holds no IR of the same model and OpenVINO (a fresh venv gives the model file a
new mtime, which the runtime's IR name carries, so the IR is stored by content). Each test
session copies that IR and compiles once; without it the session converts once itself.

    python -m tests.model_cache [--cache build/model-cache/shipped]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREPARED = REPO / "build" / "model-cache" / "shipped"
STORE = Path.home() / ".cache" / "byre" / "model-ir"
KEY_FILE = "cache-key.json"
IR_FILES = (".xml", ".bin")


def shipped_model() -> tuple[Path, str]:
    """The shipped bundle's model file and its sha256 (verified by loading the bundle)."""
    from plugins.bundle import load_bundle
    from plugins.detectors.model import SHIPPED_BUNDLE

    bundle = load_bundle(SHIPPED_BUNDLE)
    sha256 = next(f.sha256 for f in bundle.manifest.files if f.path == bundle.manifest.model)
    return bundle.model_path, sha256


def cache_key() -> dict[str, object]:
    """What the cached files depend on: the model file (the runtime names its IR by size and
    mtime) and the OpenVINO version."""
    import openvino

    model, sha256 = shipped_model()
    stat = model.stat()
    return {
        "model": str(model),
        "sha256": sha256,
        "size": stat.st_size,
        "mtime": int(stat.st_mtime),
        "openvino": openvino.__version__,
    }


def convert(cache: Path) -> Path:
    """The shipped model as IR in `cache`, converted as the runtime does on a first load
    (at once when it is there)."""
    import openvino

    from plugins.runtimes.openvino_rt import _as_ir

    return _as_ir(openvino.Core(), shipped_model()[0], cache)


def fill(cache: Path) -> None:
    """Load the shipped detector once with `cache`: converts (unless the IR is there) and
    compiles into it."""
    from plugins.registry import create

    detector = create({"type": "model", "cache_dir": str(cache)})
    detector.load()
    detector.close()


def is_current(cache: Path) -> bool:
    key = cache / KEY_FILE
    return key.is_file() and json.loads(key.read_text()) == cache_key()


def prepare(cache: Path = PREPARED) -> str:
    """Put the IR into `cache` unless it is current; returns what it did.

    Only the IR: OpenVINO keys a compiled blob by the model's absolute path, so each test
    session compiles in its own copy rather than reusing one from here.
    """
    if is_current(cache):
        return "up to date"
    key = cache_key()
    shutil.rmtree(cache, ignore_errors=True)
    content = json.dumps([key["sha256"], key["openvino"]]).encode()
    stored = STORE / hashlib.sha256(content).hexdigest()[:16]
    # the runtime's IR name (plugins/runtimes/openvino_rt.py); if it changed, `convert` does
    ir = cache / "ir" / f"{Path(str(key['model'])).stem}-{key['size']}-{key['mtime']}"
    converted = not stored.is_dir()
    if not converted:
        ir.parent.mkdir(parents=True)
        for suffix in IR_FILES:
            shutil.copyfile(stored / f"model{suffix}", ir.with_suffix(suffix))
    made = convert(cache)
    if converted:
        staging = STORE / f".{stored.name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for suffix in IR_FILES:
            shutil.copyfile(made.with_suffix(suffix), staging / f"model{suffix}")
        staging.rename(stored)
    (cache / KEY_FILE).write_text(json.dumps(key))  # last: marks the cache complete
    return "converted" if converted else f"copied from {stored}"


def session_cache(dest: Path) -> Path:
    """A filled cache for one test session at `dest`, from a copy of the prepared IR when it
    is current."""
    if is_current(PREPARED):
        shutil.copytree(PREPARED / "ir", dest / "ir")
    fill(dest)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cache", type=Path, default=PREPARED)
    args = parser.parse_args()
    started = time.monotonic()
    done = prepare(args.cache)
    print(  # noqa: T201
        f"model cache: {args.cache} {done} ({time.monotonic() - started:.1f} s)", flush=True
    )


if __name__ == "__main__":
    main()
