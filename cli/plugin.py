"""`byre plugin`: check a detector bundle, and benchmark the vision pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from plugins.bundle import load_bundle
from plugins.errors import BundleError

app = typer.Typer(help="Detector plugins: verify bundles, benchmark.", no_args_is_help=True)
console = Console()


@app.command("verify")
def verify(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle directory (with manifest.json).")],
) -> None:
    """Verify a model bundle (manifest, files, sha256) and summarise it."""
    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as err:
        console.print(f"[red]refused:[/red] {err}", soft_wrap=True)
        raise typer.Exit(2) from None
    m = bundle.manifest
    labels = [label for label in bundle.labels() if label.strip()]
    console.print(
        f"bundle {m.name} {m.version}: ok\n"
        f"  runtime     {m.runtime} (device {m.device})\n"
        f"  model       {m.model}\n"
        f"  files       {len(m.files)} verified (sha256)\n"
        f"  input       {m.input.width}x{m.input.height} {m.input.layout} {m.input.color}\n"
        f"  decoder     {m.decoder.type}\n"
        f"  labels      {len(labels)}; reported: {', '.join(m.report or ['all'])}\n"
        f"  min score   {m.thresholds.score:g}\n"
        f"  licence     {m.licence}",
        soft_wrap=True,
        highlight=False,
    )


@app.command("bench")
def bench(
    seconds: Annotated[float, typer.Option(help="Length of each composed scene.")] = 20.0,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Model cache (default ~/.cache/byre/ov-cache).")
    ] = None,
) -> None:
    """Benchmark the vision pipeline on composed scenes (same as `python -m bench.pipeline`)."""
    from bench.pipeline import DEFAULT_CACHE, measure

    result = asyncio.run(measure(seconds, cache_dir or DEFAULT_CACHE, say=print))
    print(result.targets_line())
    print(result.bench_line())
