"""Work-safety domain: monitoring of major hazard sources (重大危险源), accident reports,
inspection findings.

Alarm thresholds follow GB/T 50493-2019 5.5.2: combustible gas level 1 ≤25 %LEL and level 2
≤50 %LEL; toxic gas level 1 ≤100 % OEL and level 2 ≤200 % OEL; oxygen alarms high at 23.5 %VOL and
low at 19.5 %VOL. The thresholds themselves come with each reading (they are site configuration).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from streams.schemas.common import Count, DataModel, Ident, Name, Text, not_above

Quantity = Literal[
    "gas_lel_pct",
    "h2s_mgm3",
    "co_mgm3",
    "pressure_mpa",
    "temperature_c",
    "tank_level_pct",
    "oxygen_pct",
]

# Physical range of each quantity: a value outside is a broken sensor or a broken sender.
QUANTITY_RANGE: dict[str, tuple[float, float]] = {
    "gas_lel_pct": (0.0, 100.0),
    "h2s_mgm3": (0.0, 1_000_000.0),
    "co_mgm3": (0.0, 1_250_000.0),
    # Gauge pressure: vacuum down to -0.1013 MPa; 1,000 MPa bounds industrial vessels.
    "pressure_mpa": (-0.1013, 1000.0),
    "temperature_c": (-273.15, 3000.0),
    "tank_level_pct": (0.0, 100.0),
    "oxygen_pct": (0.0, 100.0),
}
QUANTITY_UNIT: dict[str, str] = {
    "gas_lel_pct": "%LEL",
    "h2s_mgm3": "mg/m³",
    "co_mgm3": "mg/m³",
    "pressure_mpa": "MPa",
    "temperature_c": "°C",
    "tank_level_pct": "%",
    "oxygen_pct": "%VOL",
}


class SensorReading(DataModel):
    """One reading of a sensor on a major hazard source."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "hazard_source_id": "HB-0601-0012",
                    "sensor_id": "GT-101",
                    "quantity": "gas_lel_pct",
                    "value": 31.0,
                    "level1": 25.0,
                    "level2": 50.0,
                }
            ]
        }
    )

    hazard_source_id: Ident = Field(description="The registered major hazard source.")
    sensor_id: Ident
    quantity: Quantity = Field(
        description="What is measured; the unit is in the name: %LEL, mg/m³, MPa, °C, %, %VOL."
    )
    value: float = Field(description="The reading, in the unit of `quantity`.")
    level1: float | None = Field(default=None, description="Level-1 alarm threshold, same unit.")
    level2: float | None = Field(default=None, description="Level-2 alarm threshold, same unit.")

    @field_validator("value", "level1", "level2")
    @classmethod
    def _physical(cls, number: float | None, info: ValidationInfo) -> float | None:
        quantity = info.data.get("quantity")
        if number is None or quantity is None:
            return number
        low, high = QUANTITY_RANGE[quantity]
        if not low <= number <= high:
            unit = QUANTITY_UNIT[quantity]
            raise ValueError(f"{number} {unit} is outside {low}…{high} {unit}")
        level1 = info.data.get("level1")
        # Oxygen alarms on both sides (low 19.5, high 23.5 %VOL), so its levels have no order.
        ordered = quantity != "oxygen_pct" and info.field_name == "level2"
        if ordered and level1 is not None and level1 > number:
            raise ValueError("level2 must not be below level1")
        return number


class Heartbeat(DataModel):
    """A monitoring station's sign of life; missing heartbeats mean blind spots."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "hazard_source_id": "HB-0601-0012",
                    "status": "ok",
                    "sensors_online": 23,
                    "sensors_total": 24,
                }
            ]
        }
    )

    hazard_source_id: Ident
    device_id: Ident | None = None
    status: Literal["ok", "degraded", "offline"] = "ok"
    sensors_total: Count | None = None
    sensors_online: Count | None = None

    _online_within_total = not_above("sensors_online", "sensors_total")


class AccidentReport(DataModel):
    """A work-safety accident report (生产安全事故快报); the grade follows from the numbers."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "industry": "hazardous_chemicals",
                    "enterprise": "某化工有限公司",
                    "deaths": 2,
                    "serious_injuries": 5,
                    "trapped": 1,
                    "direct_loss_10k_yuan": 350.0,
                    "description": "储罐区爆炸起火",
                }
            ]
        }
    )

    industry: Name = Field(description="Industry, e.g. coal_mine, hazardous_chemicals.")
    enterprise: Name | None = None
    deaths: Count = Field(default=0, description="Dead, including missing (含失踪).")
    serious_injuries: Count = Field(
        default=0, description="Seriously injured, including acute industrial poisoning."
    )
    missing: Count = 0
    trapped: Count = 0
    direct_loss_10k_yuan: float | None = Field(
        default=None, ge=0, le=1e9, description="Direct economic loss, 10,000 yuan (万元)."
    )
    description: Text = ""


class InspectionFinding(DataModel):
    """A hazard found at inspection (隐患排查)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "enterprise": "某化工有限公司",
                    "hazard_source_id": "HB-0601-0012",
                    "finding": "可燃气体报警器失效",
                    "grade": "major",
                    "rectify_by": "2023-09-01",
                }
            ]
        }
    )

    enterprise: Name
    hazard_source_id: Ident | None = None
    finding: Text = Field(min_length=1)
    grade: Literal["general", "major"] = Field(description="一般隐患 general, 重大隐患 major.")
    rectify_by: dt.date | None = Field(default=None, description="Deadline for rectification.")
    inspector: Name | None = None


MODELS: dict[str, type[DataModel]] = {
    "sensor_reading": SensorReading,
    "heartbeat": Heartbeat,
    "accident_report": AccidentReport,
    "inspection_finding": InspectionFinding,
}
