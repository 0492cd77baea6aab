"""Coordinate reference systems on intake: everything is stored in WGS-84 (EPSG:4326, lon/lat).

Feeds declare a CRS by name. EPSG:4326 and CGCS2000 (EPSG:4490) are taken as they are: the two
datums agree within centimetres, far below feed accuracy. GCJ-02 and BD-09 (not EPSG systems) go
through :mod:`gis.chinacoords`; any other EPSG code goes through pyproj. Coordinates are always
read in GeoJSON order, (x, y) = (lon, lat) or (easting, northing), whatever the CRS's axis order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from gis import chinacoords
from infra.errors import ValidationFailed

FloatArray = npt.NDArray[np.float64]
XYTransform = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]
PointTransform = Callable[[float, float], tuple[float, float]]

ACCEPTED = (
    "EPSG:4326 (WGS84)",
    "EPSG:4490 (CGCS2000)",
    "GCJ-02 (GCJ02)",
    "BD-09 (BD09)",
    "any other EPSG:<code> known to PROJ",
)

_ALIASES = {
    "EPSG:4326": "EPSG:4326",
    "WGS84": "EPSG:4326",
    "WGS-84": "EPSG:4326",
    "WGS 84": "EPSG:4326",
    "CRS84": "EPSG:4326",
    "OGC:CRS84": "EPSG:4326",
    "URN:OGC:DEF:CRS:OGC:1.3:CRS84": "EPSG:4326",
    "URN:OGC:DEF:CRS:EPSG::4326": "EPSG:4326",
    "EPSG:4490": "EPSG:4490",
    "CGCS2000": "EPSG:4490",
    "URN:OGC:DEF:CRS:EPSG::4490": "EPSG:4490",
    "GCJ-02": "GCJ-02",
    "GCJ02": "GCJ-02",
    "GCJ_02": "GCJ-02",
    "BD-09": "BD-09",
    "BD09": "BD-09",
    "BD_09": "BD-09",
}
_EPSG = re.compile(r"^(?:EPSG:|URN:OGC:DEF:CRS:EPSG:[0-9.]*:)(\d+)$")
_IDENTITY = frozenset({"EPSG:4326", "EPSG:4490"})


@dataclass(frozen=True, slots=True)
class ResolvedCrs:
    """A declared CRS resolved to its canonical name and its transform to WGS-84."""

    name: str
    transform: XYTransform | None  # None: already WGS-84 (or CGCS2000), nothing to do
    # The same for one point in plain floats: the per-event path of intake.
    point: PointTransform | None = None

    @property
    def is_wgs84(self) -> bool:
        return self.transform is None


def _unknown(crs: str) -> ValidationFailed:
    return ValidationFailed(
        f"unknown CRS {crs!r}; accepted: {', '.join(ACCEPTED)}",
        details=[{"field": "crs", "value": crs, "accepted": list(ACCEPTED)}],
    )


def _pyproj_transform(code: int, original: str) -> XYTransform:
    try:
        source = CRS.from_epsg(code)
    except CRSError:
        raise _unknown(original) from None
    transformer = Transformer.from_crs(source, CRS.from_epsg(4326), always_xy=True)

    def apply(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        lon, lat = transformer.transform(x, y, errcheck=False)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    return apply


@lru_cache(maxsize=256)
def resolve_crs(crs: str) -> ResolvedCrs:
    """Canonical name and transform for a declared CRS (case-insensitive); cached, so the
    per-event cost on the hot path is one dictionary lookup."""
    key = crs.strip().upper()
    canonical = _ALIASES.get(key)
    if canonical in _IDENTITY:
        return ResolvedCrs(canonical, None)
    if canonical == "GCJ-02":
        return ResolvedCrs(canonical, chinacoords.gcj02_to_wgs84, chinacoords.gcj02_to_wgs84_point)
    if canonical == "BD-09":
        return ResolvedCrs(canonical, chinacoords.bd09_to_wgs84, chinacoords.bd09_to_wgs84_point)
    match = _EPSG.match(key)
    if match is None:
        raise _unknown(crs)
    code = int(match.group(1))
    name = f"EPSG:{code}"
    if name in _IDENTITY:
        return ResolvedCrs(name, None)
    return ResolvedCrs(name, _pyproj_transform(code, crs))


def _check_range(lon: FloatArray, lat: FloatArray, crs: str) -> None:
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
    if not bool(ok.all()):
        bad = int(np.flatnonzero(~ok)[0])
        raise ValidationFailed(
            f"coordinates out of range after conversion from {crs}: "
            f"({lon[bad]!r}, {lat[bad]!r}) is not within lon [-180, 180], lat [-90, 90]",
            details=[
                {"field": "geometry", "crs": crs, "lon": float(lon[bad]), "lat": float(lat[bad])}
            ],
        )


def xy_to_wgs84(x: npt.ArrayLike, y: npt.ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Vectorised: arrays of x/y (lon/lat or easting/northing) in ``crs`` to WGS-84 lon/lat.

    Raises :class:`ValidationFailed` for an unknown CRS or any result outside lon/lat range
    (including NaN and infinities).
    """
    resolved = resolve_crs(crs)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape:
        raise ValidationFailed(f"x and y differ in shape: {xs.shape} vs {ys.shape}")
    if resolved.transform is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            xs, ys = resolved.transform(xs, ys)
    _check_range(xs, ys, resolved.name)
    return xs, ys


def to_wgs84(geometry: BaseGeometry, crs: str) -> BaseGeometry:
    """Convert a shapely geometry declared in ``crs`` to WGS-84, validating the result range."""
    resolved = resolve_crs(crs)
    if geometry.is_empty:
        return geometry
    if resolved.transform is None:
        coords = shapely.get_coordinates(geometry)
        _check_range(coords[:, 0], coords[:, 1], resolved.name)
        return geometry

    if resolved.point is not None and isinstance(geometry, Point) and not geometry.has_z:
        lon, lat = resolved.point(geometry.x, geometry.y)
        _check_range(np.array([lon]), np.array([lat]), resolved.name)
        return Point(lon, lat)

    def convert(coords: FloatArray) -> FloatArray:
        lon, lat = xy_to_wgs84(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, convert)
