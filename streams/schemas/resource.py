"""Resource domain: positions and statuses of response units (AVL) and of facilities."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from streams.schemas.common import Count, DataModel, Ident, Name, Text

UnitType = Literal[
    "fire_engine",
    "ambulance",
    "police_car",
    "rescue_team",
    "boat",
    "pump",
    "helicopter",
    "truck",
    "command_vehicle",
    "other",
]
# The same five states as streams.domain.UnitStatus, spelled out so the schema documents them.
UnitStatusName = Literal["available", "dispatched", "on_scene", "returning", "out_of_service"]


class UnitPosition(DataModel):
    """A unit tracker's report; the position is the envelope's Point geometry."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "unit_id": "BD-119-07",
                    "unit_type": "fire_engine",
                    "status": "dispatched",
                    "speed_kmh": 54.0,
                    "heading_deg": 271.0,
                }
            ]
        }
    )

    unit_id: Ident
    unit_type: UnitType
    status: UnitStatusName
    name: Name | None = None
    speed_kmh: float | None = Field(default=None, ge=0, le=1000, description="Speed, km/h.")
    heading_deg: float | None = Field(
        default=None, ge=0, lt=360, description="Heading, degrees clockwise from true north."
    )
    crew: Count | None = Field(default=None, le=1000, description="People on board.")


class FacilityStatus(DataModel):
    """The state of a facility that the response relies on (shelter, pumping station …)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "facility_id": "SH-130681-003",
                    "facility_type": "shelter",
                    "name": "涿州市第三中学避难场所",
                    "status": "open",
                    "capacity": 1200,
                    "occupancy": 860,
                }
            ]
        }
    )

    facility_id: Ident
    facility_type: Literal[
        "shelter",
        "hospital",
        "warehouse",
        "pumping_station",
        "fire_station",
        "command_post",
        "other",
    ]
    name: Name | None = None
    status: Literal["open", "closed", "full", "damaged", "unknown"]
    capacity: Count | None = Field(default=None, description="People or units it can take.")
    # Shelters do take more people than planned, so occupancy is not capped by capacity.
    occupancy: Count | None = Field(default=None, description="People or units it holds now.")
    note: Text | None = None


MODELS: dict[str, type[DataModel]] = {
    "unit_position": UnitPosition,
    "facility_status": FacilityStatus,
}
