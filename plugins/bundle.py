"""Loading and verifying model bundles before anything is given to a runtime."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from contracts import ContractError, decode
from contracts.plugin import BundleFile, PluginManifest
from plugins.errors import BundleError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: PluginManifest

    def path(self, name: str) -> Path:
        return resolve(self.root, name)

    @property
    def model_path(self) -> Path:
        return self.path(self.manifest.model)

    def labels(self) -> list[str]:
        return self.path(self.manifest.labels).read_text().splitlines()


def resolve(root: Path, name: str) -> Path:
    """A bundle file's location: inside the bundle, or inside an installed package."""
    if not name.startswith("pkg://"):
        return root / name
    package, _, rest = name.removeprefix("pkg://").partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(f"{name}: package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / rest


def load_bundle(root: Path) -> Bundle:
    """Read and verify a bundle; raise BundleError naming the problem."""
    manifest_path = root / MANIFEST
    try:
        raw = manifest_path.read_bytes()
    except OSError as err:
        raise BundleError(f"{manifest_path}: cannot read manifest: {err.strerror}") from err
    try:
        manifest = decode(PluginManifest, raw)
    except ContractError as err:
        raise BundleError(f"{manifest_path}: {err}") from err
    bundle = Bundle(root, manifest)
    for entry in manifest.files:
        verify_file(bundle, entry)
    labels = bundle.labels()
    if not any(label.strip() for label in labels):
        raise BundleError(f"{bundle.path(manifest.labels)}: labels file is empty")
    unknown = set(manifest.report or []) - set(labels)
    if unknown:
        raise BundleError(f"{manifest_path}: report lists unknown labels {sorted(unknown)}")
    return bundle


def verify_file(bundle: Bundle, entry: BundleFile) -> None:
    path = bundle.path(entry.path)
    if not path.is_file():
        raise BundleError(f"{entry.path}: file is missing ({path})")
    if entry.size is not None and path.stat().st_size != entry.size:
        raise BundleError(
            f"{entry.path}: size {path.stat().st_size} bytes, manifest says {entry.size}"
        )
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise BundleError(f"{entry.path}: sha256 {actual} does not match manifest {entry.sha256}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
