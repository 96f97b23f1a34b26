"""Telemetry samples from devices and from the appliance itself."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from contracts.base import ContractModel, UtcDatetime
from contracts.ids import Identifier

MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class TelemetrySample(ContractModel):
    """Named numeric readings from one source at one time (`telemetry.*` payload).

    On MQTT a device may omit `at`; the appliance then stamps the receipt time.
    """

    source_id: Identifier = Field(description="Device id, or the appliance id for system metrics.")
    values: dict[MetricName, float] = Field(
        min_length=1, max_length=64, json_schema_extra={"additionalProperties": False}
    )
    at: UtcDatetime | None = None

    @field_validator("values")
    @classmethod
    def _finite(cls, values: dict[str, float]) -> dict[str, float]:
        for name, value in values.items():
            if not math.isfinite(value):
                raise ValueError(f"value of {name!r} is not a finite number")
        return values
