"""`python -m sync_server [CONFIG.toml]`: run the central server."""

from __future__ import annotations

import sys
from pathlib import Path

from sync_server.app import run
from sync_server.errors import SettingsError
from sync_server.settings import load_settings


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    try:
        settings = load_settings(path)
    except SettingsError as err:
        sys.exit(f"byre central: invalid settings: {err}")
    run(settings)


if __name__ == "__main__":
    main()
