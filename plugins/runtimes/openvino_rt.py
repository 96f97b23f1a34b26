"""OpenVINO runtime: reads IR, ONNX, TF frozen graphs and TFLite; caches what it can.

A model that is not IR is converted once and saved as IR in the cache directory (keyed
by the model's size and mtime); compiled blobs are cached by OpenVINO's CACHE_DIR.

After the first inference `trim()` drops this process's resident pages of the model files
OpenVINO keeps mapped (the cached blob, ~73 MB for the shipped detector): the CPU plugin has
copied the weights into its own layout by then and never reads those pages again. They are
read-only file pages, so a later read (if any) just faults them back in from the file.

A configured device that this machine does not have (say `GPU` or `AUTO:GPU,CPU` on a box
without OpenCL) falls back to CPU with a warning; `device` says what was chosen.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from plugins.errors import PluginError
from plugins.runtimes import Precision, Tensor, clean_name

log = logging.getLogger(__name__)

MADV_DONTNEED = 4
FALLBACK_DEVICE = "CPU"
VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")


class OpenVinoRuntime:
    def __init__(
        self,
        model: Path,
        *,
        device: str,
        cache_dir: Path | None,
        precision: Precision = "auto",
    ) -> None:
        core = ov.Core()
        # listing the devices loads every device plugin (GPU, NPU: ~50 MB resident)
        plain_cpu = device == FALLBACK_DEVICE
        available = [FALLBACK_DEVICE] if plain_cpu else list(core.available_devices)
        self.device = choose_device(device, available)
        self._mapped_from = [model.resolve(), *([cache_dir.resolve()] if cache_dir else [])]
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = precision
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            config["CACHE_DIR"] = str(cache_dir / "compiled")
        started = time.monotonic()
        try:
            source = str(_as_ir(core, model, cache_dir))
            self._compiled = self._compile(core, source, config)
        except RuntimeError as err:
            raise PluginError(f"OpenVINO cannot load {model.name}: {err}") from err
        self.precision = _precision_of(self._compiled, precision)
        log.info(
            "OpenVINO loaded %s on %s (%s) in %.1f s",
            model.name,
            self.device,
            self.precision,
            time.monotonic() - started,
        )
        self._request = self._compiled.create_infer_request()
        self.input_name = clean_name(self._compiled.input(0).get_any_name())
        # A port may have several names (TF graphs do); every name is an alias.
        self._outputs = [
            (port, sorted({clean_name(n) for n in port.get_names()} or {str(i)}))
            for i, port in enumerate(self._compiled.outputs)
        ]
        self.output_names = [name for _, names in self._outputs for name in names]

    def _compile(self, core: ov.Core, source: str, config: dict[str, Any]) -> ov.CompiledModel:
        try:
            return core.compile_model(source, self.device, config)
        except RuntimeError as err:
            if self.device == FALLBACK_DEVICE:
                raise
            reason = str(err).strip().splitlines() or [type(err).__name__]
            log.warning(
                "OpenVINO cannot compile on %s (%s); falling back to %s",
                self.device,
                reason[-1],
                FALLBACK_DEVICE,
            )
            self.device = FALLBACK_DEVICE
            return core.compile_model(source, self.device, config)

    def trim(self) -> None:
        dropped = drop_file_pages(self._mapped_from)
        if dropped:
            log.info("OpenVINO: released %.0f MB of mapped model pages", dropped / 2**20)

    def infer(self, tensor: Tensor) -> dict[str, Tensor]:
        results = self._request.infer({0: tensor})
        outputs: dict[str, Tensor] = {}
        for port, names in self._outputs:
            value = np.asarray(results[port])
            outputs.update(dict.fromkeys(names, value))
        return outputs


def drop_file_pages(paths: list[Path]) -> int:
    """madvise(DONTNEED) this process's read-only mappings of files at or under `paths`;
    returns the bytes of address space released (Linux only; anything else: 0)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        with open(f"/proc/{os.getpid()}/maps") as maps:
            lines = maps.readlines()
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as err:
        log.debug("cannot inspect mappings: %r", err)
        return 0
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    prefixes = [str(p) for p in paths]
    released = 0
    for line in lines:
        parts = line.split(maxsplit=5)
        if len(parts) < 6 or "w" in parts[1]:  # only read-only file mappings
            continue
        path = parts[5].strip()
        if not any(path == p or path.startswith(p + os.sep) for p in prefixes):
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            released += end - start
    return released


def choose_device(requested: str, available: list[str]) -> str:
    """`requested` when every device it names is available here, else CPU (with a warning).

    `AUTO` alone lets OpenVINO choose; `AUTO:GPU,CPU`, `HETERO:GPU,CPU` and the like need
    every listed device (OpenVINO raises rather than skipping a missing one).
    """
    missing = [d for d in named_devices(requested) if not _available(d, available)]
    if not missing:
        return requested
    log.warning(
        "OpenVINO device %s is not available here (missing %s; this machine has %s); using %s",
        requested,
        ", ".join(missing),
        ", ".join(available) or "none",
        FALLBACK_DEVICE,
    )
    return FALLBACK_DEVICE


def named_devices(device: str) -> list[str]:
    """The physical devices a device string needs: `AUTO:GPU,-NPU` -> [GPU]."""
    name, _, listed = device.partition(":")
    if name not in VIRTUAL_DEVICES:
        return [device]
    parts = [p.strip() for p in listed.split(",") if p.strip()]
    return [p.split("(")[0] for p in parts if not p.startswith("-")]  # MULTI:GPU(4) -> GPU


def _available(device: str, available: list[str]) -> bool:
    # `GPU` means the first GPU, which OpenVINO lists as `GPU.0` when there are several.
    return device in available or any(a.split(".")[0] == device for a in available)


def _precision_of(compiled: ov.CompiledModel, requested: Precision) -> str:
    try:
        value = compiled.get_property("INFERENCE_PRECISION_HINT")
    except RuntimeError:  # AUTO and MULTI do not report it
        return requested
    return str(value.get_type_name())


def _as_ir(core: ov.Core, model: Path, cache_dir: Path | None) -> Path:
    if model.suffix in (".xml", ".onnx") or cache_dir is None:
        return model
    stat = model.stat()
    ir = cache_dir / "ir" / f"{model.stem}-{stat.st_size}-{int(stat.st_mtime)}.xml"
    if not ir.exists():
        log.info("converting %s to OpenVINO IR (once)", model.name)
        ir.parent.mkdir(parents=True, exist_ok=True)
        tmp = ir.with_suffix(".tmp.xml")
        ov.save_model(core.read_model(str(model)), str(tmp), compress_to_fp16=False)
        tmp.with_suffix(".bin").replace(ir.with_suffix(".bin"))
        tmp.replace(ir)
    return ir
