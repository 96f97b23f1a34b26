"""`python -m appliance [CONFIG.toml]`: run the appliance."""

from __future__ import annotations

import sys
from pathlib import Path

from appliance.app import run
from appliance.errors import SettingsError
from appliance.settings import load_settings


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    try:
        settings = load_settings(path)
    except SettingsError as err:
        sys.exit(f"byre appliance: invalid settings: {err}")
    run(settings)


if __name__ == "__main__":
    main()
