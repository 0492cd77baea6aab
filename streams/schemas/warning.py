"""Warning domain: China's weather warning signals, earthquakes, and the event types that the CAP
and GeoJSON intake produce (``cap-alert``, ``weather-alert``, ``flood-warning``).

The CAP and NWS models are registered in other domains too (a CAP alert of category Health is a
health-domain event), see ``streams.schemas.registry``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from streams.schemas.common import (
    COLOUR_LEVEL,
    Colour,
    Count,
    DataModel,
    LevelCode,
    LongText,
    Name,
    Text,
    Url,
)

# The 14 signal types of CMA Order No. 16 (气象灾害预警信号发布与传播办法, 2007).
Signal = Literal[
    "typhoon",  # 台风
    "rainstorm",  # 暴雨
    "blizzard",  # 暴雪
    "cold_wave",  # 寒潮
    "gale",  # 大风
    "sandstorm",  # 沙尘暴
    "heat",  # 高温
    "drought",  # 干旱
    "lightning",  # 雷电
    "hail",  # 冰雹
    "frost",  # 霜冻
    "fog",  # 大雾
    "haze",  # 霾
    "road_icing",  # 道路结冰
]


class _Graded(DataModel):
    """Warning colour and response level, which must agree when both are given."""

    warning_colour: Colour | None = Field(
        default=None, description="China's warning colour: blue IV … red I."
    )
    level: LevelCode | None = Field(default=None, description="Level I (gravest) … IV.")

    @field_validator("level")
    @classmethod
    def _level_matches_colour(cls, level: str | None, info: ValidationInfo) -> str | None:
        colour = info.data.get("warning_colour")
        if level is not None and colour is not None and COLOUR_LEVEL[colour] != level:
            raise ValueError(f"colour {colour} is level {COLOUR_LEVEL[colour]}, not {level}")
        return level


class WeatherWarning(DataModel):
    """A meteorological warning signal (气象灾害预警信号); the warned area is the geometry."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signal": "rainstorm",
                    "colour": "red",
                    "issued_by": "保定市气象台",
                    "description": "过去3小时降雨量已达100毫米以上，且降雨可能持续",
                    "valid_until": "2023-07-31T20:00:00+08:00",
                }
            ]
        }
    )

    signal: Signal = Field(description="Signal type, e.g. rainstorm 暴雨.")
    colour: Colour = Field(description="blue 蓝 (IV), yellow 黄 (III), orange 橙 (II), red 红 (I).")
    issued_by: Name | None = None
    description: Text = ""
    area_desc: Text | None = None
    valid_until: AwareDatetime | None = None

    @field_validator("colour")
    @classmethod
    def _heat_has_no_blue(cls, colour: str, info: ValidationInfo) -> str:
        # Order No. 16 defines heat (高温) signals from yellow up only.
        if colour == "blue" and info.data.get("signal") == "heat":
            raise ValueError("the heat signal has no blue level")
        return colour


Magnitude = Annotated[float, Field(ge=-2, le=10)]


class Earthquake(DataModel):
    """An earthquake; the epicentre is the envelope's Point geometry.

    ``level_dense`` and ``level_less_dense`` are the initial gradings of the national earthquake
    plan (2012) by magnitude for densely (人口密集) and less densely (人口较密集) populated areas;
    ``level`` is the graver of the two until downstream knows the population density.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "magnitude": 5.5,
                    "depth_km": 10.0,
                    "place": "河北唐山市古冶区",
                    "level": "II",
                    "level_dense": "II",
                    "level_less_dense": "III",
                }
            ]
        }
    )

    magnitude: Magnitude = Field(description="Magnitude M, one decimal by GB 17740.")
    magnitude_type: Annotated[str, StringConstraints(max_length=16)] | None = None
    depth_km: float | None = Field(default=None, ge=-10, le=1000, description="Depth, km.")
    place: Text | None = None
    title: Text | None = None
    tsunami: bool | None = Field(
        default=None,
        description="USGS flag: set for large events in oceanic regions; not a tsunami warning.",
    )
    alert_level: Literal["green", "yellow", "orange", "red"] | None = Field(
        default=None, description="USGS PAGER alert level."
    )
    felt: Count | None = Field(default=None, description="Felt reports received.")
    cdi: float | None = Field(default=None, ge=0, le=12, description="Max reported intensity.")
    mmi: float | None = Field(default=None, ge=0, le=12, description="Max estimated intensity.")
    significance: int | None = Field(default=None, ge=0, le=10_000, description="USGS `sig`.")
    review_status: Annotated[str, StringConstraints(max_length=32)] | None = None
    event_kind: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="e.g. earthquake, quarry blast."
    )
    updated: AwareDatetime | None = None
    url: Url | None = None
    level: LevelCode | None = Field(default=None, description="Initial grading (graver one).")
    level_dense: LevelCode | None = None
    level_less_dense: LevelCode | None = None


class ValuePair(DataModel):
    """A CAP value-name pair (eventCode, parameter, geocode)."""

    value_name: Annotated[str, StringConstraints(max_length=500)]
    value: LongText


class CapArea(DataModel):
    area_desc: Text
    geocodes: list[ValuePair] = Field(default_factory=list, max_length=10_000)
    polygons: Count = Field(default=0, description="Polygons given for this area.")
    circles: Count = Field(default=0, description="Circles given for this area.")
    altitude_ft: float | None = Field(default=None, description="Altitude, feet (CAP unit).")
    ceiling_ft: float | None = Field(default=None, description="Ceiling, feet (CAP unit).")


class CapResource(DataModel):
    description: Text
    mime_type: Annotated[str, StringConstraints(max_length=200)] | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    uri: Annotated[str, StringConstraints(max_length=4000)] | None = None
    digest: Annotated[str, StringConstraints(max_length=200)] | None = None


CapCategory = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]
Short = Annotated[str, StringConstraints(max_length=1000)]


class CapAlert(_Graded):
    """One ``<info>`` block of a CAP 1.1/1.2 alert with the alert's own fields (CAP names in
    snake_case); an alert without ``<info>`` has ``info_index`` null and no hazard fields."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "identifier": "WRA_ReservoirWarn_201405142010",
                    "sender": "ddmt01@wra.gov.tw",
                    "sent": "2014-05-14T20:10:00+08:00",
                    "status": "Actual",
                    "msg_type": "Alert",
                    "scope": "Public",
                    "info_index": 0,
                    "categories": ["Infra"],
                    "event": "水庫洩洪",
                    "urgency": "Future",
                    "severity": "Moderate",
                    "certainty": "Observed",
                    "headline": "明德水庫:洩洪中",
                    "warning_colour": "red",
                    "level": "I",
                }
            ]
        }
    )

    cap_version: Literal["1.1", "1.2"] = "1.2"
    identifier: Short
    sender: Short
    sent: AwareDatetime
    status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = Field(
        description="Anything but Actual is not a real event: downstream ignores it."
    )
    msg_type: Literal["Alert", "Update", "Cancel", "Ack", "Error"]
    scope: Literal["Public", "Restricted", "Private"] | None = None
    source: Short | None = None
    restriction: Text | None = None
    addresses: Text | None = None
    codes: list[Short] = Field(default_factory=list, max_length=1000)
    note: Text | None = None
    references: list[Short] = Field(
        default_factory=list, max_length=10_000, description="`sender,identifier,sent` triples."
    )
    incidents: Text | None = None
    info_index: int | None = Field(default=None, ge=0, description="Position of the <info>.")
    language: Annotated[str, StringConstraints(max_length=35)] | None = None
    categories: list[CapCategory] = Field(default_factory=list, max_length=12)
    event: Text | None = None
    response_types: list[Annotated[str, StringConstraints(max_length=32)]] = Field(
        default_factory=list, max_length=20
    )
    urgency: Literal["Immediate", "Expected", "Future", "Past", "Unknown"] | None = None
    severity: Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"] | None = None
    # "Very Likely" is CAP 1.0/1.1 and kept as sent.
    certainty: (
        Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown", "Very Likely"] | None
    ) = None
    audience: Text | None = None
    event_codes: list[ValuePair] = Field(default_factory=list, max_length=1000)
    effective: AwareDatetime | None = None
    onset: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    sender_name: Text | None = None
    headline: Text | None = None
    description: LongText | None = None
    instruction: LongText | None = None
    web: Short | None = None
    contact: Text | None = None
    parameters: list[ValuePair] = Field(default_factory=list, max_length=1000)
    resources: list[CapResource] = Field(default_factory=list, max_length=100)
    areas: list[CapArea] = Field(default_factory=list, max_length=10_000)
    area_desc: LongText | None = Field(default=None, description="All areaDesc, joined by '; '.")


class NwsReference(DataModel):
    identifier: Short
    sender: Short | None = None
    sent: Short | None = Field(default=None, description="As sent; not checked (not our time).")


class WeatherAlert(_Graded):
    """An api.weather.gov alert (CAP in GeoJSON); also the model of ``flood-warning``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "NWS-IDP-PROD-3965873-3369046",
                    "event": "Flood Watch",
                    "status": "Actual",
                    "message_type": "Update",
                    "severity": "Severe",
                    "sent": "2019-12-20T13:34:00-08:00",
                    "area_desc": "North Oregon Coast; Greater Portland Metro Area",
                    "affected_zones": ["https://api.weather.gov/zones/forecast/ORZ001"],
                }
            ]
        }
    )

    id: Short
    event: Text
    status: Literal["Actual", "Exercise", "System", "Test", "Draft"]
    message_type: Literal["Alert", "Update", "Cancel", "Ack", "Error"]
    category: CapCategory | None = None
    severity: Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"] | None = None
    certainty: Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"] | None = None
    urgency: Literal["Immediate", "Expected", "Future", "Past", "Unknown"] | None = None
    sent: AwareDatetime | None = None
    effective: AwareDatetime | None = None
    onset: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    ends: AwareDatetime | None = None
    sender: Short | None = None
    sender_name: Text | None = None
    headline: Text | None = None
    description: LongText | None = None
    instruction: LongText | None = None
    response: Annotated[str, StringConstraints(max_length=32)] | None = None
    area_desc: LongText | None = None
    geocode: dict[Annotated[str, StringConstraints(max_length=64)], list[Short]] = Field(
        default_factory=dict, description="e.g. SAME and UGC codes of the zones."
    )
    affected_zones: list[Short] = Field(default_factory=list, max_length=10_000)
    references: list[NwsReference] = Field(default_factory=list, max_length=10_000)
    parameters: dict[Annotated[str, StringConstraints(max_length=200)], list[LongText]] = Field(
        default_factory=dict
    )


MODELS: dict[str, type[DataModel]] = {
    "weather_warning": WeatherWarning,
    "earthquake": Earthquake,
    "cap-alert": CapAlert,
    "weather-alert": WeatherAlert,
    "flood-warning": WeatherAlert,
}
