"""The fixed JSON envelope of one agency event, and the raw-topic record that carries it.

Agencies send envelopes over HTTP (``POST /api/v1/feeds/{domain}``) or produce raw records to the
Kafka raw topic themselves; both paths validate with these models, so one schema rules them.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from streams.domain import SCHEMA_VERSION, Domain, Severity

SourceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
EventType = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"
    ),
]
GeometryType = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"
]
# A county boundary has a few thousand vertices; anything far beyond is an error or an attack.
MAX_VERTICES = 100_000
_DEPTH = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}

_INF = math.inf
# A tuple, not ``int | float``: that union would be built again on every call.
_NUMBER = (int, float)


class Geometry(BaseModel):
    """A GeoJSON geometry (RFC 7946 types, no GeometryCollection), coordinates finite."""

    model_config = ConfigDict(extra="forbid")

    type: GeometryType
    coordinates: list[Any]

    @field_validator("coordinates")
    @classmethod
    def _finite_positions(cls, value: list[Any], info: Any) -> list[Any]:
        kind = info.data.get("type")
        if kind is None:
            return value
        # Nearly every event is a Point of two plain floats: accept that without the general
        # walk. NaN fails both comparisons and so do the infinities; anything else (ints, a z,
        # bad input) takes the general path, which words the refusals.
        if kind == "Point" and len(value) == 2:
            x, y = value
            if type(x) is float and type(y) is float and -_INF < x < _INF and -_INF < y < _INF:
                return value
        count = _check_positions(value, _DEPTH[kind], kind)
        if count == 0:
            raise ValueError(f"{kind} has no positions")
        if count > MAX_VERTICES:
            raise ValueError(f"{kind} has {count} positions; at most {MAX_VERTICES} are accepted")
        return value


def _check_positions(value: Any, depth: int, kind: str) -> int:
    if not isinstance(value, list):
        raise ValueError(f"{kind} coordinates must be nested arrays")
    if depth == 1:
        if not 2 <= len(value) <= 3:
            raise ValueError("a position is [x, y] or [x, y, z]")
        for number in value:
            if type(number) is float:  # the common case first: no isinstance, no call
                if -_INF < number < _INF:
                    continue
                raise ValueError("a position holds finite numbers only (no NaN or Infinity)")
            if isinstance(number, bool) or not isinstance(number, _NUMBER):
                raise ValueError("a position holds numbers only")
            try:
                finite = math.isfinite(number)
            except OverflowError:  # an integer beyond any float: no finite coordinate
                finite = False
            if not finite:
                raise ValueError("a position holds finite numbers only (no NaN or Infinity)")
        return 1
    total = 0
    for item in value:
        total += _check_positions(item, depth - 1, kind)
        if total > MAX_VERTICES:
            break
    return total


class EventEnvelope(BaseModel):
    """One event as an agency sends it. ``data`` holds the fields of the event's own type."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source_id": "110-20230731-0001",
                    "type": "call",
                    "occurred_at": "2023-07-31T08:12:00+08:00",
                    "geometry": {"type": "Point", "coordinates": [115.974, 39.486]},
                    "crs": "EPSG:4326",
                    "data": {
                        "channel": "119",
                        "category": "rescue",
                        "description": "居民被困，水位上涨",
                        "people_trapped": 6,
                    },
                }
            ]
        },
    )

    source_id: SourceId = Field(
        description="The agency's own id of the event: the idempotency key."
    )
    type: EventType = Field(description="The event type within the domain, e.g. `call`.")
    occurred_at: AwareDatetime = Field(description="When it happened, with its time zone.")
    geometry: Geometry | None = Field(default=None, description="GeoJSON geometry in `crs`.")
    crs: str = Field(
        default="EPSG:4326",
        max_length=32,
        description="EPSG:4326, EPSG:4490 (CGCS2000), GCJ-02 or BD-09.",
    )
    severity: Severity | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _no_bare_numbers(cls, value: Any) -> Any:
        # A bare number could be seconds or milliseconds since 1970: ambiguous, so refused.
        if isinstance(value, _NUMBER) and not isinstance(value, bool):
            raise ValueError("give an ISO 8601 time with its zone, e.g. 2023-07-31T08:12:00+08:00")
        return value


class RawRecord(BaseModel):
    """A record of the raw topic: an accepted envelope with who sent it and when."""

    model_config = ConfigDict(extra="forbid")

    v: int = SCHEMA_VERSION
    event_id: str
    agency: str
    domain: Domain
    received_at: datetime
    envelope: EventEnvelope
    # The document the event was read from when it was not JSON (CAP XML), kept verbatim.
    original: str | None = None
