"""Incident domain: calls taken by the 110 / 119 / 120 / 122 dispatch desks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from streams.schemas.common import PERSONAL, Count, DataModel, Text

Channel = Literal["110", "119", "120", "122"]
CallCategory = Literal[
    "fire",
    "traffic_accident",
    "crime",
    "medical",
    "rescue",
    "hazmat",
    "collapse",
    "flood",
    "other",
]
Phone = Annotated[str, StringConstraints(max_length=32, pattern=r"^\+?[0-9][0-9 -]{2,30}$")]


class Casualties(DataModel):
    deaths: Count = Field(default=0, description="Dead, as reported by the caller or desk.")
    injuries: Count = Field(default=0, description="Injured people.")
    missing: Count = Field(default=0, description="Missing people.")


class Call(DataModel):
    """One call taken by a dispatch desk (接警)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "119",
                    "category": "rescue",
                    "description": "居民被困，水位上涨",
                    "people_trapped": 6,
                }
            ]
        }
    )

    channel: Channel = Field(description="The desk that took the call: 110, 119, 120 or 122.")
    category: CallCategory = Field(description="What the call is about.")
    description: Text = Field(default="", description="What the caller said, as recorded.")
    address: Text | None = Field(default=None, description="Address as given by the caller.")
    people_trapped: Count | None = Field(default=None, description="People trapped (被困人数).")
    casualties: Casualties | None = None
    vehicles_involved: Count | None = Field(default=None, description="For traffic accidents.")
    caller_phone: Phone | None = Field(
        default=None,
        description="Caller's number. Personal data.",
        json_schema_extra=PERSONAL,
    )
    caller_name: Text | None = Field(
        default=None,
        max_length=100,
        description="Caller's name. Personal data.",
        json_schema_extra=PERSONAL,
    )

    @field_validator("channel", mode="before")
    @classmethod
    def _channel_as_text(cls, value: Any) -> Any:
        # Desks often send the number as a JSON number; 119 and "119" name the same desk.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


MODELS: dict[str, type[DataModel]] = {"call": Call}
