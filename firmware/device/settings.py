"""Settings a device keeps in a JSON file (flash on a board): identity, broker, intervals."""

import json
import os

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 1883,
    "root": "byre",
    "keepalive_s": 30,
    "report_interval_s": 10,
    "backoff_min_s": 1.0,
    "backoff_max_s": 60.0,
}
REQUIRED = ("device_id", "device_type", "username", "password")


class SettingsError(Exception):
    pass


class Settings:
    """Values of the settings file; `save` writes it back atomically enough for flash."""

    def __init__(self, path: str, values: dict[str, object]) -> None:
        self.path = path
        self.values = values

    @classmethod
    def load(cls, path: str) -> "Settings":
        try:
            with open(path) as f:
                values = json.load(f)
        except (OSError, ValueError) as err:
            raise SettingsError("cannot read " + path + ": " + str(err)) from err
        if not isinstance(values, dict):
            raise SettingsError(path + ": not a JSON object")
        for name in REQUIRED:
            if not isinstance(values.get(name), str):
                raise SettingsError(path + ": " + name + " is missing")
        merged: dict[str, object] = dict(DEFAULTS)
        merged.update(values)
        return cls(path, merged)

    def save(self) -> None:
        temporary = self.path + ".new"
        with open(temporary, "w") as f:
            json.dump(self.values, f)
        os.rename(temporary, self.path)

    def text(self, name: str) -> str:
        return str(self.values[name])

    def number(self, name: str) -> float:
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(name + " is not a number")
        return float(value)
