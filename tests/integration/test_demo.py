"""`byre demo` as a user runs it: a real process tree on free ports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_and_reports_synced_events(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--duration", "12", "--interval", "0.5"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        cwd=tmp_path,
    )
    last_line = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"Demo finished: (\d+) events synced to central\.", last_line)

    assert result.returncode == 0, result.stdout + result.stderr
    assert match is not None, last_line
    assert int(match.group(1)) > 0
    assert list(tmp_path.iterdir()) == []  # its data (central's media too) stays in its own dir
