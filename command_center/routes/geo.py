"""Geodata API: jurisdiction lookup, map layers and tiles, and the spatial questions.

No authentication yet: the console's map needs these before anyone logs in, and they expose
only the geodata base (divisions, sample layers), never events. Query parameters are parsed
here, not by FastAPI, so that every bad value (missing, not a number, NaN, out of range) gives
the platform's own 422 ``validation_failed`` body naming the field.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response
from shapely.geometry import Point, shape

from command_center.deps import RuntimeDep
from gis.crs import to_wgs84
from gis.layers import FACILITY_LAYERS, ZONE_LAYERS
from gis.mapdata import CACHE_CONTROL, layer_names
from infra.errors import ValidationFailed
from streams.domain import UnitStatus

router = APIRouter(prefix="/api/v1/geo", tags=["geo"])

OptionalText = Annotated[str | None, Query()]
GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"


def _number(name: str, raw: str | None, low: float, high: float) -> float:
    if raw is None or not raw.strip():
        raise ValidationFailed(f"query parameter {name} is required", details=[{"field": name}])
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(
            f"{name}={raw!r} is not a number", details=[{"field": name, "value": raw}]
        ) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValidationFailed(
            f"{name}={raw} is outside {low:g}..{high:g}", details=[{"field": name, "value": raw}]
        )
    return value


def _optional(name: str, raw: str | None, low: float, high: float) -> float | None:
    return None if raw is None or not raw.strip() else _number(name, raw, low, high)


def _position(lon: str | None, lat: str | None) -> tuple[float, float]:
    return _number("lon", lon, -180.0, 180.0), _number("lat", lat, -90.0, 90.0)


def _names(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


@router.get("/lookup")
def lookup(runtime: RuntimeDep, lon: OptionalText = None, lat: OptionalText = None) -> Any:
    """Province, city and county holding a WGS-84 point (nulls outside every division)."""
    x, y = _position(lon, lat)
    return runtime.geo.describe(runtime.geo.lookup(x, y))


@router.get("/layers")
def layers(runtime: RuntimeDep) -> dict[str, Any]:
    loaded = {info.name: info.to_json() for info in runtime.geo.layers()}
    return {
        "items": [loaded.get(name, {"name": name, "feature_count": 0}) for name in layer_names()]
    }


@router.get("/layers/{layer}.geojson", response_class=Response)
def layer_geojson(
    runtime: RuntimeDep,
    layer: str,
    zoom: OptionalText = None,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """A layer as GeoJSON simplified for the zoom band (gzip when accepted); ETag, and 304
    on If-None-Match."""
    level = int(_number("zoom", zoom or "8", 0, 24))
    headers = {"Cache-Control": CACHE_CONTROL}
    etag = runtime.geo.map.etag(layer, level)
    if _matches(if_none_match, etag):
        return Response(
            status_code=304, headers={**headers, "ETag": etag, "Vary": "Accept-Encoding"}
        )
    document = runtime.geo.map.geojson(layer, level)
    headers["ETag"] = document.etag
    headers["Vary"] = "Accept-Encoding"
    if "gzip" in (accept_encoding or "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(document.gzipped, media_type=GEOJSON, headers=headers)
    return Response(document.body, media_type=GEOJSON, headers=headers)


@router.get("/tiles/{layer}/{z}/{x}/{y}.mvt", response_class=Response)
def tile(
    runtime: RuntimeDep,
    layer: str,
    z: int,
    x: int,
    y: int,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Mapbox vector tile from PostGIS (ST_AsMVT); 404 on the embedded runtime."""
    etag = f'"{runtime.geo.map.version(layer)[:20]}-{layer}-{z}-{x}-{y}"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(runtime.geo.map.tile(layer, z, x, y), media_type=MVT, headers=headers)


@router.get("/units/nearest")
def nearest_units(
    runtime: RuntimeDep,
    lon: OptionalText = None,
    lat: OptionalText = None,
    k: OptionalText = None,
    types: OptionalText = None,
    max_distance_m: OptionalText = None,
    status: OptionalText = None,
) -> dict[str, Any]:
    """The k nearest units (available by default) of the given types (comma-separated)."""
    x, y = _position(lon, lat)
    wanted = _names(status, (UnitStatus.AVAILABLE.value,))
    try:
        statuses = [UnitStatus(value) for value in wanted]
    except ValueError:
        raise ValidationFailed(
            f"status must be among {', '.join(s.value for s in UnitStatus)}"
        ) from None
    hits = runtime.geo.nearest_units(
        x,
        y,
        k=int(_number("k", k or "5", 1, 100)),
        max_distance_m=_optional("max_distance_m", max_distance_m, 0, 1e6),
        types=_names(types, ()) or None,
        statuses=statuses,
    )
    return {"items": [hit.to_json() for hit in hits]}


@router.get("/facilities")
def facilities(
    runtime: RuntimeDep,
    lon: OptionalText = None,
    lat: OptionalText = None,
    distance_m: OptionalText = None,
    layers: OptionalText = None,
) -> dict[str, Any]:
    """Facilities (hospitals, shelters, hazard sources, gauges, reservoirs) within a distance."""
    x, y = _position(lon, lat)
    radius = _number("distance_m", distance_m or "5000", 0, 1e6)
    hits = runtime.geo.features_within(x, y, radius, _names(layers, FACILITY_LAYERS))
    return {
        "items": [
            {**hit.feature.to_geojson(), "distance_m": round(hit.distance_m, 1)} for hit in hits
        ]
    }


@router.get("/zones")
def zones(
    runtime: RuntimeDep, lon: OptionalText = None, lat: OptionalText = None
) -> dict[str, Any]:
    """Flood-risk zones, warning areas and hazard buffer zones containing a point."""
    x, y = _position(lon, lat)
    return {"items": [f.to_geojson() for f in runtime.geo.zones_containing(x, y, ZONE_LAYERS)]}


@router.post("/exposure")
def exposure(runtime: RuntimeDep, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Population and facilities in an area: ``{"geometry": GeoJSON, "crs"?: …,
    "radius_m"?: metres around a Point}``."""
    raw = body.get("geometry")
    if not isinstance(raw, dict):
        raise ValidationFailed("body needs a GeoJSON geometry", details=[{"field": "geometry"}])
    try:
        area = shape(raw)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ValidationFailed(f"unreadable geometry: {exc}") from None
    area = to_wgs84(area, str(body.get("crs") or "EPSG:4326"))
    radius_raw = body.get("radius_m")
    radius = None if radius_raw is None else _number("radius_m", str(radius_raw), 1, 1e6)
    if radius is None and isinstance(area, Point):
        raise ValidationFailed("a Point needs radius_m", details=[{"field": "radius_m"}])
    return runtime.geo.exposure(area, radius).to_json()
