"""`byre demo` as a user runs it: a real process tree on free ports."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_runs_end_to_end_and_reports_synced_events() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--duration", "6", "--interval", "0.5"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    last_line = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"Demo finished: (\d+) events synced to central\.", last_line)

    assert result.returncode == 0, result.stdout + result.stderr
    assert match is not None, last_line
    assert int(match.group(1)) > 0
