"""`python -m bench.sync` end to end on a tiny backlog: it drains and prints its BENCH line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH_LINE = re.compile(
    r"^BENCH sync bus=rabbitmq drain_s=\d+\.\d events_per_s=\d+ media_mb_s=\d+\.\d "
    r"raw_bus_events_per_s=\d+ ratio=\d+\.\d{3}$"
)

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
def test_a_tiny_sync_bench_drains_and_prints_its_bench_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYRE_")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.sync",
            "--database",
            "sqlite",
            "--bus",
            "rabbitmq",
            "--events",
            "300",
            "--media",
            "3",
            "--media-kb",
            "8",
            "--raw-events",
            "200",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert BENCH_LINE.match(lines[-1]), lines[-1]
    drained = re.compile(r"central ([\d,]+)/\1 .* outbox 0 +media 3/3$")
    assert any(drained.search(line) for line in lines), lines
