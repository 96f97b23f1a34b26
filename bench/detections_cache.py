"""A runner wrapper for the benches: detections stored on disk by image, model and plugin.

    async with Runner(settings) as runner:
        cached = CachedRunner(runner, Path("/tmp/dc/detections.sqlite"))
        result = await cached.detect("cam-1", image, plugin="coco", deadline_s=30.0)
        cached.close()  # commits the last batch; cached.hits / cached.misses count

A detect whose image bytes were detected before by the same model gets the stored result
without reaching the worker; any other goes to the runner and its result is stored. Any image
works (whole frames or crops): the key is a blake2b of the image's dtype, shape and bytes,
the plugin name and the plugin's model identity. Errors (deadline, plugin down) are raised and
not stored.

Model identity, per plugin (`model_identity`): nothing the runner or `PluginStatus` reports
says which model a worker loaded, so it is derived from what the worker is given and runs:
- the plugin config validated by the plugin's own config model (defaults filled in, so a
  changed default such as a low-light threshold counts), without `cache_dir` (compiled-model
  cache: where, not what);
- when the config names a bundle: the sha256 of its manifest.json, which lists the sha256 of
  the model and labels files (the worker verifies them before loading);
- the sha256 of the code between image and boxes: plugins/ (preprocess, decoders, low light,
  runtimes) and appliance/inference/ (the client resizes frames before they are sent);
- the installed OpenVINO and ONNX Runtime versions and the CPU's vector flags (with
  `precision: auto` OpenVINO picks bf16 where the CPU has it).
The identities of all seen plugins are kept in the file's `identities` table (digest -> JSON).
Old identities' rows stay in the file: delete the file to reclaim the space.

Storage: one SQLite file (WAL); new results are committed every `BATCH` misses and on
`close`, so a killed process loses at most the last batch and never leaves a partial row.
Lookups and inserts are sub-millisecond and run on the event loop (bench only).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from appliance.inference import DetectResult, PluginSpec, Runner
from contracts.vision import Detection
from plugins.registry import create

REPO = Path(__file__).resolve().parents[1]
CODE_DIRS = (REPO / "plugins", REPO / "appliance" / "inference")
RUNTIMES = ("openvino", "onnxruntime")
CPU_FLAGS = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"})
BATCH = 200  # results per commit
FILE_NAME = "detections.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS detections (key BLOB PRIMARY KEY, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (digest TEXT PRIMARY KEY, identity TEXT NOT NULL);
"""


class Detects(Protocol):
    """What the benches call on a runner (and all `CameraPipeline` calls on it)."""

    async def detect(
        self,
        camera_id: str,
        frame_bgr: NDArray[np.uint8],
        *,
        plugin: str | None = None,
        deadline_s: float | None = None,
    ) -> DetectResult: ...


def code_digest(dirs: tuple[Path, ...] = CODE_DIRS) -> str:
    """sha256 over the path and bytes of every .py file under `dirs`."""
    digest = hashlib.sha256()
    for root in dirs:
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    line = next((x for x in text.splitlines() if x.startswith("flags")), "")
    return sorted(CPU_FLAGS & set(line.partition(":")[2].split()))


def runtime_versions() -> dict[str, str]:
    found = {}
    for name in RUNTIMES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


def model_identity(spec: PluginSpec, code: str | None = None) -> dict[str, Any]:
    """What a plugin's detections depend on (see the module docstring)."""
    config = create(spec.config).config.model_dump(mode="json", exclude={"cache_dir"})
    identity: dict[str, Any] = {"config": config}
    bundle = config.get("bundle")
    if isinstance(bundle, str):  # by content: the same bundle in another checkout is the same
        manifest = Path(bundle) / "manifest.json"
        config["bundle"] = Path(bundle).name
        identity["manifest_sha256"] = hashlib.sha256(manifest.read_bytes()).hexdigest()
    identity["code_sha256"] = code or code_digest()
    identity["runtimes"] = runtime_versions()
    identity["cpu_flags"] = cpu_flags()
    return identity


def digest_of(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def image_key(identity: str, plugin: str, image: NDArray[np.uint8]) -> bytes:
    key = hashlib.blake2b(digest_size=20)
    key.update(f"{identity}\0{plugin}\0{image.dtype.str}\0{image.shape}\0".encode())
    key.update(image.tobytes())  # C order, also for a crop (a non-contiguous view)
    return key.digest()


def encode(result: DetectResult) -> str:
    detections = [d.model_dump(mode="json") for d in result.detections]
    return json.dumps({"infer_ms": result.infer_ms, "detections": detections})


def decode(text: str) -> DetectResult:
    raw = json.loads(text)
    detections = [Detection.model_validate(d) for d in raw["detections"]]
    return DetectResult(detections, float(raw["infer_ms"]))


class CachedRunner:
    """`runner.detect` with results stored in the SQLite file `path` (made if missing).

    The model identity of each plugin is derived from its spec in `runner.settings`.
    `before_miss`, when given, is awaited once before the first detect that needs the runner
    (say: start it and wait for the model), so a run answered from the cache loads no model.
    `hits` counts detects answered from the cache, `misses` those answered by the runner.
    """

    def __init__(
        self,
        runner: Runner,
        path: Path,
        before_miss: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.runner = runner
        self.path = path
        self.hits = 0
        self.misses = 0
        self._before_miss = before_miss
        self._ready = asyncio.Lock()
        self._default = runner.settings.plugins[0].name if runner.settings.plugins else ""
        self._specs = {s.name: s for s in runner.settings.plugins}
        self._digests: dict[str, str] = {}
        self._pending: dict[bytes, str] = {}  # stored, not committed yet
        self._code: str | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60.0)  # benches may share one file
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.commit()

    async def detect(
        self,
        camera_id: str,
        frame_bgr: NDArray[np.uint8],
        *,
        plugin: str | None = None,
        deadline_s: float | None = None,
    ) -> DetectResult:
        """The stored result for this image and model, else `runner.detect` (then stored)."""
        name = plugin or self._default
        key = image_key(self._digest(name), name, frame_bgr)
        text = self._pending.get(key)
        if text is None:
            row = self._db.execute("SELECT result FROM detections WHERE key = ?", (key,))
            text = next((r[0] for r in row), None)
        if text is not None:
            self.hits += 1
            return decode(text)
        if self._before_miss is not None:
            async with self._ready:  # one call, also when misses come concurrently
                if self._before_miss is not None:
                    await self._before_miss()
                    self._before_miss = None
        result = await self.runner.detect(
            camera_id, frame_bgr, plugin=plugin, deadline_s=deadline_s
        )
        self.misses += 1
        self._pending[key] = encode(result)
        if len(self._pending) >= BATCH:
            self.flush()
        return result

    def flush(self) -> None:
        """Commit the stored results not committed yet."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO detections (key, result) VALUES (?, ?)",
                self._pending.items(),
            )
        self._pending = {}

    def close(self) -> None:
        self.flush()
        self._db.close()

    def stats(self) -> str:
        looked = self.hits + self.misses
        share = f"{self.hits / looked:.0%}" if looked else "-"
        return f"detections cache {self.path}: hits={self.hits} misses={self.misses} ({share})"

    def _digest(self, plugin: str) -> str:
        digest = self._digests.get(plugin)
        if digest is not None:
            return digest
        spec = self._specs.get(plugin)
        if spec is None:  # the runner raises UnknownPlugin for it
            identity: dict[str, Any] = {"unknown_plugin": plugin}
        else:
            if self._code is None:
                self._code = code_digest()
            identity = model_identity(spec, self._code)
        digest = self._digests[plugin] = digest_of(identity)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO identities (digest, identity) VALUES (?, ?)",
                (digest, json.dumps(identity, sort_keys=True)),
            )
        return digest
