"""Composed scenes, made once per test session into a temporary folder (short and small)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from appliance.scenes import Result, Settings, compose

SECONDS = 5.0

MakeScene = Callable[..., Result]


@pytest.fixture(scope="session")
def make_scene(tmp_path_factory: pytest.TempPathFactory) -> MakeScene:
    """Compose a scene (cached by its settings) and return the written files and truth."""
    made: dict[Settings, Result] = {}

    def make(scene: str, *, night: bool = False, seed: int = 0, seconds: float = SECONDS) -> Result:
        settings = Settings(scene=scene, seconds=seconds, night=night, seed=seed)
        if settings not in made:
            out = tmp_path_factory.mktemp(f"{settings.stem}-{seed}")
            made[settings] = compose(settings, out)
        return made[settings]

    return make
