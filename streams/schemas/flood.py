"""Flood domain (防汛): river gauges, reservoirs, rain gauges, inundation and dike breaches.

Water levels are elevations in metres above the station's datum (in China usually the 1985
national height datum), so they are not bounded below by zero; the bounds only stop absurd input.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from streams.schemas.common import Count, DataModel, Ident, Name, Text

Elevation = Annotated[float, Field(ge=-500, le=9000)]
# Tidal reaches can run backwards, hence negative flows are allowed.
Flow = Annotated[float, Field(ge=-100_000, le=1_000_000)]
NonNegFlow = Annotated[float, Field(ge=0, le=1_000_000)]
# The world 24 h record is about 1,825 mm; 3,000 mm bounds every window up to 24 h.
Rain = Annotated[float, Field(ge=0, le=3000)]
Trend = Literal["rising", "falling", "steady"]


class RiverGauge(DataModel):
    """A river gauge reading (水位站/水文站)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "station_id": "30600400",
                    "station_name": "白沟",
                    "water_level_m": 15.82,
                    "flow_m3s": 1240.0,
                    "warning_level_m": 14.5,
                    "guaranteed_level_m": 16.5,
                    "trend": "rising",
                }
            ]
        }
    )

    station_id: Ident = Field(description="The water agency's station code.")
    station_name: Name | None = None
    river: Name | None = None
    water_level_m: Elevation = Field(description="Water level (水位), metres above datum.")
    flow_m3s: Flow | None = Field(default=None, description="Discharge (流量), m³/s.")
    warning_level_m: Elevation | None = Field(
        default=None, description="Warning level (警戒水位), metres above datum."
    )
    guaranteed_level_m: Elevation | None = Field(
        default=None, description="Guaranteed level (保证水位), metres above datum."
    )
    trend: Trend | None = Field(default=None, description="Water level trend (水势).")


class Reservoir(DataModel):
    """A reservoir reading (水库)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "station_id": "31004000",
                    "station_name": "西大洋水库",
                    "level_m": 139.2,
                    "storage_1e6m3": 520.0,
                    "inflow_m3s": 860.0,
                    "outflow_m3s": 300.0,
                    "flood_limit_level_m": 134.0,
                }
            ]
        }
    )

    station_id: Ident = Field(description="The water agency's station code.")
    station_name: Name | None = None
    level_m: Elevation = Field(description="Reservoir level (库水位), metres above datum.")
    # Three Gorges holds about 39,300 million m³; 100,000 bounds every reservoir on Earth.
    storage_1e6m3: float | None = Field(
        default=None, ge=0, le=100_000, description="Storage (蓄水量), million m³."
    )
    inflow_m3s: NonNegFlow | None = Field(default=None, description="Inflow (入库流量), m³/s.")
    outflow_m3s: NonNegFlow | None = Field(default=None, description="Outflow (出库流量), m³/s.")
    flood_limit_level_m: Elevation | None = Field(
        default=None, description="Flood-limit level (汛限水位), metres above datum."
    )
    design_flood_level_m: Elevation | None = Field(
        default=None, description="Design flood level (设计洪水位), metres above datum."
    )


class Rainfall(DataModel):
    """Accumulated rainfall at a rain gauge over windows ending at ``occurred_at``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"station_id": "30612345", "mm_1h": 42.5, "mm_24h": 180.3}]}
    )

    station_id: Ident = Field(description="The rain gauge's station code.")
    station_name: Name | None = None
    mm_1h: Rain | None = Field(default=None, description="Rain in the last hour, mm.")
    mm_3h: Rain | None = Field(default=None, description="Rain in the last 3 hours, mm.")
    mm_6h: Rain | None = Field(default=None, description="Rain in the last 6 hours, mm.")
    mm_12h: Rain | None = Field(default=None, description="Rain in the last 12 hours, mm.")
    mm_24h: Rain | None = Field(default=None, description="Rain in the last 24 hours, mm.")

    @model_validator(mode="after")
    def _some_amount(self) -> Rainfall:
        if all(
            value is None
            for value in (self.mm_1h, self.mm_3h, self.mm_6h, self.mm_12h, self.mm_24h)
        ):
            raise ValueError("a rainfall reading needs at least one of mm_1h … mm_24h")
        return self


class Inundation(DataModel):
    """Flooded ground (淹没/内涝); its outline is the envelope's geometry."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"description": "村庄进水", "depth_m": 1.2, "affected_people": 800}]
        }
    )

    description: Text = ""
    depth_m: float | None = Field(default=None, ge=0, le=50, description="Water depth, metres.")
    area_km2: float | None = Field(default=None, ge=0, le=1_000_000, description="Area, km².")
    affected_people: Count | None = Field(default=None, description="People affected.")


class DikeBreach(DataModel):
    """A breach or overtopping of a dike (溃堤/决口); its location is the envelope's geometry."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"description": "左堤决口", "river": "大清河", "width_m": 30.0}]
        }
    )

    description: Text = ""
    river: Name | None = None
    width_m: float | None = Field(default=None, ge=0, le=100_000, description="Breach width, m.")
    depth_m: float | None = Field(
        default=None, ge=0, le=50, description="Water depth at the breach, metres."
    )
    flow_m3s: NonNegFlow | None = Field(default=None, description="Flow through it, m³/s.")
    affected_people: Count | None = Field(default=None, description="People affected.")


MODELS: dict[str, type[DataModel]] = {
    "river_gauge": RiverGauge,
    "reservoir": Reservoir,
    "rainfall": Rainfall,
    "inundation": Inundation,
    "dike_breach": DikeBreach,
}
