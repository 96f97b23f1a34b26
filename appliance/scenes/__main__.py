"""`python -m appliance.scenes --scene escape --out DIR [--seconds 20] [--night] [--seed N]`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from appliance.scenes.compose import DEFAULT_FPS, DEFAULT_SIZE, MIN_SECONDS, Settings, compose
from appliance.scenes.errors import SceneError
from appliance.scenes.presets import PRESETS


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, not {text!r}") from None
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError("width and height must be even and at least 64")
    return width, height


def _seconds(text: str) -> float:
    value = float(text)
    if value < MIN_SECONDS:
        raise argparse.ArgumentTypeError(f"at least {MIN_SECONDS} seconds")
    return value


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m appliance.scenes",
        description="Compose a synthetic farm video and its ground truth (video.mp4 + .json).",
    )
    parser.add_argument("--scene", required=True, choices=[*PRESETS, "all"])
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seconds", type=_seconds, default=20.0)
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS)
    parser.add_argument("--size", type=_size, default=DEFAULT_SIZE, help="WIDTHxHEIGHT")
    parser.add_argument("--night", action="store_true", help="dark, bluish, noisy variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress, summary only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    scenes = list(PRESETS) if args.scene == "all" else [args.scene]
    out = sys.stdout
    for scene in scenes:
        settings = Settings(
            scene=scene,
            seconds=args.seconds,
            fps=args.fps,
            width=args.size[0],
            height=args.size[1],
            night=args.night,
            seed=args.seed,
        )

        def progress(done: int, total: int, name: str = settings.stem) -> None:
            if not args.quiet and (done % 25 == 0 or done == total):
                sys.stderr.write(f"\r{name}: frame {done}/{total}")
                sys.stderr.flush()

        started = time.perf_counter()
        try:
            result = compose(settings, args.out, progress)
        except SceneError as err:
            sys.stderr.write(f"\nerror: {err}\n")
            return 1
        if not args.quiet:
            sys.stderr.write("\n")
        truth = result.truth
        events = ", ".join(
            f"{c.condition}(track {c.track_id}) at frame {c.start_frame} ({c.start_s:g} s)"
            for c in truth.conditions
        )
        out.write(
            f"scene={truth.scene} frames={truth.frame_count} size={truth.width}x{truth.height}"
            f" fps={truth.fps:g} night={'yes' if truth.night else 'no'} seed={truth.seed}"
            f" tracks={len(truth.tracks)} conditions=[{events or 'none'}]"
            f" video={result.video} truth={result.truth_path}"
            f" took={time.perf_counter() - started:.2f}s\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
