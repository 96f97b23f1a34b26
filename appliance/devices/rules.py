"""Farm events from device readings: heat stress, water low, ammonia high, power loss, offline.

Each rule watches one condition per device and records an `incident.event` when it starts or
gets worse (correlation id `<device>:<kind>`, so the incident engine keeps one case per device
and condition); it re-arms once the reading is back past a margin, so a value hovering at a
threshold does not flood the farm with events.

Heat stress uses the temperature-humidity index of the species the climate sensor watches:
NRC (1971) `THI = 1.8T + 32 - (0.55 - 0.0055 RH)(1.8T - 26)` for cattle, pigs and horses, and
Marai et al. (2007) `THI = T - (0.31 - 0.31 RH/100)(T - 14.4)` for sheep (T in degC, RH in %).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.devices.registry import DeviceRegistry
from appliance.store.events import EventStore
from contracts import EventType, FarmEvent, FarmEventKind, Severity, TelemetrySample
from contracts.devices import DeviceType
from contracts.mqtt import OFFLINE

log = logging.getLogger(__name__)

Species = Literal["cattle", "pig", "horse", "sheep"]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    warning: float = Field(description="Index at which the animals start to suffer.")
    critical: float = Field(description="Index of severe stress.")


def default_heat_stress() -> dict[Species, Thresholds]:
    return {
        "cattle": Thresholds(warning=72, critical=79),  # NRC THI: mild from 72, severe 79+
        "pig": Thresholds(warning=75, critical=84),  # LCI: alert 75, emergency 84
        "horse": Thresholds(warning=72, critical=79),
        "sheep": Thresholds(warning=23.3, critical=25.6),  # Marai: severe 23.3, extreme 25.6
    }


class RuleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heat_stress: dict[Species, Thresholds] = Field(
        default_factory=default_heat_stress, description="THI thresholds per species."
    )
    species: dict[str, Species] = Field(
        default_factory=dict, description="Species a climate sensor watches (default cattle)."
    )
    water_low_pct: Thresholds = Field(
        default=Thresholds(warning=20, critical=10),
        description="Trough level (below) for a warning and a critical event.",
    )
    ammonia_ppm: Thresholds = Field(
        default=Thresholds(warning=25, critical=50), description="Barn ammonia (above)."
    )
    rearm_margin: float = Field(
        default=0.05, ge=0, le=0.5, description="Share of a threshold a reading must recover."
    )


def thi(species: Species, temperature_c: float, humidity_pct: float) -> float:
    """Temperature-humidity index for `species` (see the module docstring)."""
    if species == "sheep":
        return temperature_c - (0.31 - 0.31 * humidity_pct / 100) * (temperature_c - 14.4)
    t_f = 1.8 * temperature_c + 32
    return t_f - (0.55 - 0.0055 * humidity_pct) * (t_f - 58)


@dataclass
class _Watch:
    severity: Severity | None = None


class SensorRules:
    """Turns readings and availability changes into farm events."""

    def __init__(self, events: EventStore, registry: DeviceRegistry, settings: RuleSettings):
        self.events = events
        self.registry = registry
        self.settings = settings
        self.recorded = 0
        self._types: dict[str, DeviceType] = {}
        self._watches: dict[tuple[str, FarmEventKind], _Watch] = {}

    async def on_sample(self, sample: TelemetrySample) -> None:
        device_type = await self._type_of(sample.source_id)
        values = sample.values
        if device_type == DeviceType.CLIMATE:
            await self._climate(sample.source_id, values)
        elif device_type == DeviceType.WATER_TROUGH and "level_pct" in values:
            level = values["level_pct"]
            await self._below(
                sample.source_id,
                FarmEventKind.WATER_LOW,
                level,
                self.settings.water_low_pct,
                f"Trough {sample.source_id} at {level:.0f} %",
                {"level_pct": level},
            )
        elif device_type == DeviceType.POWER_MONITOR and "mains_ok" in values:
            lost = values["mains_ok"] < 0.5
            await self._flag(
                sample.source_id,
                FarmEventKind.POWER_LOSS,
                Severity.CRITICAL if lost else None,
                f"Mains power lost ({sample.source_id})",
                {k: values[k] for k in ("voltage_v", "battery_pct") if k in values},
            )

    async def on_availability(self, device_id: str, availability: str, at: datetime) -> None:
        await self._flag(
            device_id,
            FarmEventKind.DEVICE_OFFLINE,
            Severity.WARNING if availability == OFFLINE else None,
            f"Device {device_id} is offline",
            {"since": at.isoformat()},
        )

    async def _climate(self, device_id: str, values: dict[str, float]) -> None:
        if "temperature_c" in values and "humidity_pct" in values:
            species = self.settings.species.get(device_id, "cattle")
            index = thi(species, values["temperature_c"], values["humidity_pct"])
            limits = self.settings.heat_stress[species]
            await self._above(
                device_id,
                FarmEventKind.HEAT_STRESS,
                index,
                limits,
                f"Heat stress for {species}: THI {index:.1f} ({device_id})",
                {
                    "thi": round(index, 1),
                    "species": species,
                    "temperature_c": values["temperature_c"],
                    "humidity_pct": values["humidity_pct"],
                },
            )
        if "ammonia_ppm" in values:
            ppm = values["ammonia_ppm"]
            await self._above(
                device_id,
                FarmEventKind.AMMONIA_HIGH,
                ppm,
                self.settings.ammonia_ppm,
                f"Ammonia {ppm:.0f} ppm ({device_id})",
                {"ammonia_ppm": ppm},
            )

    async def _above(
        self,
        device_id: str,
        kind: FarmEventKind,
        value: float,
        limits: Thresholds,
        summary: str,
        attributes: dict[str, float | str],
    ) -> None:
        severity = _severity(value, limits.warning, limits.critical)
        current = self._watch(device_id, kind).severity
        if severity is None and current is not None:
            rearm = limits.warning * (1 - self.settings.rearm_margin)
            severity = current if value > rearm else None
        await self._flag(device_id, kind, severity, summary, attributes)

    async def _below(
        self,
        device_id: str,
        kind: FarmEventKind,
        value: float,
        limits: Thresholds,
        summary: str,
        attributes: dict[str, float | str],
    ) -> None:
        severity = _severity(-value, -limits.warning, -limits.critical)
        current = self._watch(device_id, kind).severity
        if severity is None and current is not None:
            rearm = limits.warning * (1 + self.settings.rearm_margin)
            severity = current if value < rearm else None
        await self._flag(device_id, kind, severity, summary, attributes)

    async def _flag(
        self,
        device_id: str,
        kind: FarmEventKind,
        severity: Severity | None,
        summary: str,
        attributes: dict[str, float | str],
    ) -> None:
        """Record an event when a condition starts or worsens; remember when it ends."""
        watch = self._watch(device_id, kind)
        previous, watch.severity = watch.severity, severity
        if severity is None or not _worse(severity, previous):
            return
        event = FarmEvent(
            kind=kind,
            severity=severity,
            summary=summary[:500],
            device_id=device_id,
            attributes=dict(attributes),
        )
        await self.events.record(
            EventType.FARM_EVENT,
            event,
            correlation_id=f"{device_id}:{kind.value}",
            occurred_at=datetime.now(UTC),
        )
        self.recorded += 1
        log.info("%s", summary)

    def _watch(self, device_id: str, kind: FarmEventKind) -> _Watch:
        return self._watches.setdefault((device_id, kind), _Watch())

    async def _type_of(self, device_id: str) -> DeviceType | None:
        if device_id not in self._types:
            device = await self.registry.get(device_id)
            if device is None:
                return None
            self._types[device_id] = device.device_type
        return self._types[device_id]


def _severity(value: float, warning: float, critical: float) -> Severity | None:
    if value >= critical:
        return Severity.CRITICAL
    if value >= warning:
        return Severity.WARNING
    return None


_RANK = {None: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


def _worse(severity: Severity, previous: Severity | None) -> bool:
    return _RANK[severity] > _RANK[previous]
