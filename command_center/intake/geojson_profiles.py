"""GeoJSON feed intake: ``parse_geojson`` maps each Feature through a named profile.

A profile knows one publisher's property names. Each Feature becomes one event or one
``Rejection`` (with the feature's index, its id if it has one and the reason), so one bad feature
never costs the others; a body that is not a GeoJSON FeatureCollection (or Feature) raises.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from command_center.intake.cap_mapping import warning_colour
from command_center.intake.result import ParsedItem, ParseResult, Rejection
from infra.errors import InvalidInput, PayloadTooLarge, ValidationFailed
from streams.domain import Domain, Severity
from streams.envelope import EventEnvelope
from streams.schemas import validate_data
from streams.schemas.common import COLOUR_LEVEL


class FeatureRefused(Exception):
    """One feature cannot be mapped; the message says why."""


@dataclass(frozen=True, slots=True)
class Profile:
    """How to read one publisher's features."""

    description: str
    source_id: Callable[[dict[str, Any]], str | None]
    to_item: Callable[[dict[str, Any]], ParsedItem]


def parse_geojson(body: bytes, profile: str, *, max_bytes: int) -> ParseResult:
    """Read a GeoJSON FeatureCollection (or one Feature) with the named profile."""
    chosen = PROFILES.get(profile)
    if chosen is None:
        known = ", ".join(sorted(PROFILES))
        raise ValidationFailed(
            f"unknown GeoJSON profile {profile!r}; known profiles: {known}",
            details=[{"loc": ["query", "profile"], "msg": f"unknown profile; known: {known}"}],
        )
    features = _features(_load(body, max_bytes))
    items: list[ParsedItem] = []
    rejected: list[Rejection] = []
    for index, feature in enumerate(features):
        source_id = chosen.source_id(feature) if isinstance(feature, dict) else None
        try:
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise FeatureRefused("not a GeoJSON Feature object")
            items.append(chosen.to_item(feature))
        except FeatureRefused as error:
            rejected.append(Rejection(index, source_id, str(error)))
        except ValidationFailed as error:
            rejected.append(Rejection(index, source_id, error.message, tuple(error.details)))
    return ParseResult(tuple(items), tuple(rejected))


def _load(body: bytes, max_bytes: int) -> Any:
    if len(body) > max_bytes:
        raise PayloadTooLarge(
            f"the document has {len(body)} bytes; at most {max_bytes} are accepted"
        )
    if not body.strip():
        raise InvalidInput("the body is empty")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"the body is not UTF-8: {error}") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"not JSON: {error}") from None
    except RecursionError:
        raise InvalidInput("JSON nested too deeply") from None


def _no_constants(name: str) -> Any:
    raise InvalidInput(f"{name} is not JSON: numbers must be finite")


def _features(document: Any) -> list[Any]:
    if isinstance(document, dict) and document.get("type") == "Feature":
        return [document]
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ValidationFailed(
            "expected a GeoJSON FeatureCollection",
            details=[{"loc": ["body", "type"], "msg": "must be 'FeatureCollection' or 'Feature'"}],
        )
    features = document.get("features")
    if not isinstance(features, list):
        raise ValidationFailed(
            "a FeatureCollection needs a 'features' array",
            details=[{"loc": ["body", "features"], "msg": "must be an array"}],
        )
    return features


def _envelope(**fields: Any) -> EventEnvelope:
    try:
        return EventEnvelope.model_validate(fields)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FeatureRefused(f"{where}: {first['msg']}") from None


def _properties(feature: dict[str, Any]) -> dict[str, Any]:
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise FeatureRefused("the feature has no properties object")
    return properties


def _number(value: Any, name: str, *, required: bool = False) -> float | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FeatureRefused(f"{name} {value!r} is not a finite number")
    return float(value)


def _lonlat(lon: Any, lat: Any) -> None:
    lon_value, lat_value = _number(lon, "longitude", required=True), _number(lat, "latitude")
    if lon_value is None or not -180 <= lon_value <= 180:
        raise FeatureRefused(f"longitude {lon!r} is outside -180…180")
    if lat_value is None or not -90 <= lat_value <= 90:
        raise FeatureRefused(f"latitude {lat!r} is outside -90…90")


def _check_positions(value: Any, depth: int) -> None:
    """Every position of a geometry is a lon/lat inside WGS-84 bounds (depth = nesting level)."""
    if not isinstance(value, list):
        raise FeatureRefused("geometry coordinates must be nested arrays")
    if depth == 1:
        if len(value) < 2:
            raise FeatureRefused("a position needs longitude and latitude")
        _lonlat(value[0], value[1])
        return
    for item in value:
        _check_positions(item, depth - 1)


_GEOMETRY_DEPTH = {"Point": 1, "MultiPoint": 2, "LineString": 2, "Polygon": 3, "MultiPolygon": 4}


def _geometry(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in _GEOMETRY_DEPTH:
        raise FeatureRefused("geometry must be null or a Point, LineString or (Multi)Polygon")
    _check_positions(value.get("coordinates"), _GEOMETRY_DEPTH[value["type"]])
    return {"type": value["type"], "coordinates": value["coordinates"]}


# ---------------------------------------------------------------- usgs-earthquakes

# 2012 national earthquake plan, initial grading by magnitude (lower bounds, inclusive).
LEVEL_DENSE: tuple[tuple[float, str], ...] = ((6.0, "I"), (5.0, "II"), (4.0, "III"))
LEVEL_LESS_DENSE: tuple[tuple[float, str], ...] = (
    (7.0, "I"),
    (6.0, "II"),
    (5.0, "III"),
    (4.0, "IV"),
)
# Severity by magnitude; a PAGER alert (expected losses) can only make it graver.
MAGNITUDE_SEVERITY: tuple[tuple[float, Severity], ...] = (
    (7.0, Severity.EXTREME),
    (6.0, Severity.SEVERE),
    (5.0, Severity.MODERATE),
    (-math.inf, Severity.MINOR),
)
PAGER_SEVERITY = {
    "red": Severity.EXTREME,
    "orange": Severity.SEVERE,
    "yellow": Severity.MODERATE,
    "green": Severity.MINOR,
}
_SEVERITY_RANK = {Severity.MINOR: 1, Severity.MODERATE: 2, Severity.SEVERE: 3, Severity.EXTREME: 4}


def grade(magnitude: float, table: tuple[tuple[float, str], ...]) -> str | None:
    """The level of the first row whose lower bound the magnitude reaches, else None."""
    return next((level for bound, level in table if magnitude >= bound), None)


def earthquake_severity(magnitude: float, pager_alert: str | None) -> Severity:
    by_magnitude = next(sev for bound, sev in MAGNITUDE_SEVERITY if magnitude >= bound)
    by_pager = PAGER_SEVERITY.get(pager_alert or "", Severity.MINOR)
    return max(by_magnitude, by_pager, key=_SEVERITY_RANK.__getitem__)


def _epoch_ms(value: Any, name: str) -> datetime:
    number = _number(value, name, required=True)
    assert number is not None
    try:
        return datetime.fromtimestamp(number / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        raise FeatureRefused(f"{name} {value!r} is not a time in epoch milliseconds") from None


def _usgs_id(feature: dict[str, Any]) -> str | None:
    value = feature.get("id")
    return value if isinstance(value, str) and value.strip() else None


def _usgs_item(feature: dict[str, Any]) -> ParsedItem:
    source_id = _usgs_id(feature)
    if source_id is None:
        raise FeatureRefused("the feature has no id")
    properties = _properties(feature)
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise FeatureRefused("an earthquake's geometry must be a Point")
    position = geometry.get("coordinates")
    if not isinstance(position, list) or not 2 <= len(position) <= 3:
        raise FeatureRefused("the Point must be [longitude, latitude, depth_km]")
    _lonlat(position[0], position[1])
    magnitude = _number(properties.get("mag"), "properties.mag")
    if magnitude is None:
        raise FeatureRefused("properties.mag is missing: an earthquake cannot be graded without it")
    alert = properties.get("alert")
    tsunami = properties.get("tsunami")
    updated = properties.get("updated")
    level_dense, level_less_dense = (
        grade(magnitude, LEVEL_DENSE),
        grade(magnitude, LEVEL_LESS_DENSE),
    )
    data = {
        "magnitude": magnitude,
        "magnitude_type": properties.get("magType"),
        "depth_km": _number(position[2], "depth") if len(position) == 3 else None,
        "place": properties.get("place"),
        "title": properties.get("title"),
        "tsunami": None if tsunami is None else tsunami in (1, True),
        "alert_level": alert,
        "felt": properties.get("felt"),
        "cdi": properties.get("cdi"),
        "mmi": properties.get("mmi"),
        "significance": properties.get("sig"),
        "review_status": properties.get("status"),
        "event_kind": properties.get("type"),
        "updated": None if updated is None else _epoch_ms(updated, "updated").isoformat(),
        "url": properties.get("url"),
        # Downstream knows the population density; until then the graver grading stands.
        "level": level_dense or level_less_dense,
        "level_dense": level_dense,
        "level_less_dense": level_less_dense,
    }
    clean = validate_data(Domain.WARNING, "earthquake", _drop_none(data))
    envelope = _envelope(
        source_id=source_id,
        type="earthquake",
        occurred_at=_epoch_ms(properties.get("time"), "properties.time"),
        geometry={"type": "Point", "coordinates": [position[0], position[1]]},
        crs="EPSG:4326",
        severity=earthquake_severity(magnitude, alert if isinstance(alert, str) else None),
        data=clean,
    )
    return ParsedItem(Domain.WARNING, envelope)


# ---------------------------------------------------------------- nws-alerts

# NWS event names of flood warnings proper; watches, advisories and statements stay warnings.
FLOOD_WARNING_EVENT = re.compile(
    r"^(?:(?:flash|coastal|lakeshore|areal)\s+)?flood\s+warning$", re.IGNORECASE
)
NWS_TIMES = ("sent", "effective", "onset", "expires", "ends")
_NWS_SEVERITY = {
    "Extreme": Severity.EXTREME,
    "Severe": Severity.SEVERE,
    "Moderate": Severity.MODERATE,
    "Minor": Severity.MINOR,
    "Unknown": Severity.UNKNOWN,
}


def _nws_id(feature: dict[str, Any]) -> str | None:
    properties = feature.get("properties")
    value = properties.get("id") if isinstance(properties, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def _aware(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FeatureRefused(f"{name} {value!r} is not a date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FeatureRefused(f"{name} {value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise FeatureRefused(f"{name} {value!r} has no time zone")
    return parsed


def _nws_item(feature: dict[str, Any]) -> ParsedItem:
    source_id = _nws_id(feature)
    if source_id is None:
        raise FeatureRefused("properties.id is missing")
    properties = _properties(feature)
    event = properties.get("event")
    if not isinstance(event, str) or not event.strip():
        raise FeatureRefused("properties.event is missing")
    times = {name: _aware(properties.get(name), f"properties.{name}") for name in NWS_TIMES}
    occurred_at = times["onset"] or times["effective"] or times["sent"]
    if occurred_at is None:
        raise FeatureRefused("none of properties.onset, effective, sent is given")
    flood = FLOOD_WARNING_EVENT.match(event.strip()) is not None
    domain, event_type = (
        (Domain.FLOOD, "flood-warning") if flood else (Domain.WARNING, "weather-alert")
    )
    references = properties.get("references") or []
    parameters = properties.get("parameters") or {}
    colour = warning_colour(
        [
            (str(name), value)
            for name, values in (parameters.items() if isinstance(parameters, dict) else ())
            for value in (values if isinstance(values, list) else [values])
            if isinstance(value, str)
        ],
        event,
        properties.get("headline") if isinstance(properties.get("headline"), str) else None,
    )
    data = {
        "id": source_id,
        "event": event,
        "status": properties.get("status"),
        "message_type": properties.get("messageType"),
        "category": properties.get("category"),
        "severity": properties.get("severity"),
        "certainty": properties.get("certainty"),
        "urgency": properties.get("urgency"),
        **{name: value.isoformat() for name, value in times.items() if value is not None},
        "sender": properties.get("sender"),
        "sender_name": properties.get("senderName"),
        "headline": properties.get("headline"),
        "description": properties.get("description"),
        "instruction": properties.get("instruction"),
        "response": properties.get("response"),
        "area_desc": properties.get("areaDesc"),
        "geocode": properties.get("geocode") or {},
        "affected_zones": properties.get("affectedZones") or [],
        "references": [
            {key: ref.get(key) for key in ("identifier", "sender", "sent") if key in ref}
            if isinstance(ref, dict)
            else ref
            for ref in (references if isinstance(references, list) else [references])
        ],
        "parameters": parameters,
        "warning_colour": colour,
        "level": None if colour is None else COLOUR_LEVEL[colour],
    }
    clean = validate_data(domain, event_type, _drop_none(data))
    envelope = _envelope(
        source_id=source_id,
        type=event_type,
        occurred_at=occurred_at,
        geometry=_geometry(feature.get("geometry")),
        crs="EPSG:4326",
        severity=_NWS_SEVERITY.get(str(properties.get("severity"))),
        data=clean,
    )
    return ParsedItem(domain, envelope)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


PROFILES: dict[str, Profile] = {
    "usgs-earthquakes": Profile(
        "USGS earthquake summary feeds (earthquake.usgs.gov …/summary/*.geojson)",
        _usgs_id,
        _usgs_item,
    ),
    "nws-alerts": Profile(
        "US National Weather Service alerts (api.weather.gov/alerts…)", _nws_id, _nws_item
    ),
}
