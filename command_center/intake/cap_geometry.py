"""CAP ``<area>`` shapes to GeoJSON (WGS-84, lon/lat).

CAP writes points as ``lat,lon`` (latitude first, the opposite of GeoJSON), polygons as closed
rings of such points, and circles as ``lat,lon radius`` with the radius in kilometres.
"""

from __future__ import annotations

import math
from typing import Any

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
CIRCLE_VERTICES = 64
_DECIMALS = 6  # about 0.1 m: finer than any CAP sender's precision


class GeometryError(ValueError):
    """A CAP shape that cannot be read; the message says which and why."""


def parse_point(text: str) -> tuple[float, float]:
    """``"lat,lon"`` to ``(lon, lat)``."""
    parts = text.split(",")
    if len(parts) != 2:
        raise GeometryError(f"{text!r} is not a 'lat,lon' pair")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise GeometryError(f"{text!r} is not a 'lat,lon' pair of numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise GeometryError(f"{text!r} is not finite")
    if not -90 <= lat <= 90:
        raise GeometryError(f"latitude {lat} in {text!r} is outside -90…90 (CAP is 'lat,lon')")
    if not -180 <= lon <= 180:
        raise GeometryError(f"longitude {lon} in {text!r} is outside -180…180")
    return (lon, lat)


def parse_polygon(text: str) -> list[list[float]]:
    """A CAP polygon to a GeoJSON linear ring, lon/lat.

    An unclosed ring is closed rather than refused: CAP requires closure, but the shape meant
    is unambiguous, and refusing a warning over it would hide the warning.
    """
    ring = [list(parse_point(pair)) for pair in text.split()]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    if len({tuple(point) for point in ring}) < 3:
        raise GeometryError(f"a polygon needs at least 3 distinct points, got {len(ring)} points")
    return ring


def parse_circle(text: str) -> tuple[float, float, float]:
    """``"lat,lon radius_km"`` to ``(lon, lat, radius_km)``."""
    parts = text.split()
    if len(parts) != 2:
        raise GeometryError(f"{text!r} is not a 'lat,lon radius' circle")
    lon, lat = parse_point(parts[0])
    try:
        radius = float(parts[1])
    except ValueError:
        raise GeometryError(f"radius {parts[1]!r} is not a number") from None
    if not math.isfinite(radius) or radius < 0:
        raise GeometryError(f"radius {parts[1]!r} must be a finite number ≥ 0 (km)")
    return (lon, lat, radius)


def circle_ring(
    lon: float, lat: float, radius_km: float, vertices: int = CIRCLE_VERTICES
) -> list[list[float]]:
    """A ring approximating a circle on the sphere, lon/lat.

    Each vertex is the great-circle destination at ``radius_km`` on an evenly spaced bearing,
    so east-west offsets in degrees grow as 1/cos(latitude) as they must. Longitudes are kept
    continuous (they may pass ±180 near the antimeridian) so that the ring stays one polygon.
    """
    delta = radius_km / EARTH_RADIUS_KM
    if math.degrees(delta) + abs(lat) >= 90:
        raise GeometryError(f"a circle of {radius_km} km around {lat},{lon} reaches a pole")
    phi, lam = math.radians(lat), math.radians(lon)
    ring: list[list[float]] = []
    for step in range(vertices):
        bearing = 2 * math.pi * step / vertices
        phi2 = math.asin(
            math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(bearing)
        )
        lam2 = lam + math.atan2(
            math.sin(bearing) * math.sin(delta) * math.cos(phi),
            math.cos(delta) - math.sin(phi) * math.sin(phi2),
        )
        ring.append([round(math.degrees(lam2), _DECIMALS), round(math.degrees(phi2), _DECIMALS)])
    ring.append(list(ring[0]))
    return ring


def to_geojson(
    rings: list[list[list[float]]], points: list[tuple[float, float]]
) -> dict[str, Any] | None:
    """Polygons (one ring each) and points of one ``<info>`` as a single GeoJSON geometry.

    Polygons win: zero-radius circles (points) are dropped when there are areas to show, since
    the envelope carries one geometry and a point inside a warned area adds nothing to it.
    """
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": [rings[0]]}
    if rings:
        return {"type": "MultiPolygon", "coordinates": [[ring] for ring in rings]}
    if len(points) == 1:
        return {"type": "Point", "coordinates": list(points[0])}
    if points:
        return {"type": "MultiPoint", "coordinates": [list(point) for point in points]}
    return None
