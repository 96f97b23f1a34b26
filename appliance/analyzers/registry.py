"""Analyzer configs by type, and building a camera's analyzers from them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from appliance.analyzers.base import Analyzer
from appliance.analyzers.counts import (
    CrowdingAnalyzer,
    CrowdingConfig,
    HeadcountAnalyzer,
    HeadcountConfig,
)
from appliance.analyzers.down import AnimalDownAnalyzer, AnimalDownConfig
from appliance.analyzers.escape import EscapeAnalyzer, EscapeConfig
from appliance.analyzers.intruders import (
    IntruderAnalyzer,
    IntruderConfig,
    PredatorAnalyzer,
    PredatorConfig,
)

AnalyzerSettings = Annotated[
    EscapeConfig
    | IntruderConfig
    | PredatorConfig
    | AnimalDownConfig
    | HeadcountConfig
    | CrowdingConfig,
    Field(discriminator="type"),
]

ANALYZERS: dict[str, type[Analyzer]] = {
    cls.key: cls
    for cls in (
        EscapeAnalyzer,
        IntruderAnalyzer,
        PredatorAnalyzer,
        AnimalDownAnalyzer,
        HeadcountAnalyzer,
        CrowdingAnalyzer,
    )
}


def default_analyzers() -> list[AnalyzerSettings]:
    """What a camera runs when its config names none: the rules needing no numbers."""
    return [EscapeConfig(), IntruderConfig(), PredatorConfig(), AnimalDownConfig()]


def build(configs: list[AnalyzerSettings], camera_id: str) -> list[Analyzer]:
    return [ANALYZERS[c.type](c, camera_id) for c in configs]
