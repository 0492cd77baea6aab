"""CRS on intake: the published GCJ-02/BD-09 algorithms, their inverses, EPSG via pyproj."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from gis import chinacoords
from gis.crs import resolve_crs, to_wgs84, xy_to_wgs84
from gis.geodesy import distances_m
from infra.errors import ValidationFailed

# Over China's land area, where GCJ-02 applies.
china_lon = st.floats(73.5, 135.0)
china_lat = st.floats(18.0, 53.5)


def _one(fn: chinacoords._Forward, lon: float, lat: float) -> tuple[float, float]:
    x, y = fn(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


def test_published_forward_values() -> None:
    # The reference values of the widely used coordtransform/eviltransform implementations.
    assert _one(chinacoords.wgs84_to_gcj02, 116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )
    assert _one(chinacoords.gcj02_to_bd09, 116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351022), abs=1e-12
    )


def test_gcj02_offset_has_its_known_size_in_hebei() -> None:
    lon, lat = _one(chinacoords.wgs84_to_gcj02, 115.974, 39.486)
    east = (lon - 115.974) * 111_320 * math.cos(math.radians(39.486))
    north = (lat - 39.486) * 110_950
    assert 400 < east < 650 and 0 < north < 250


def test_outside_china_is_unchanged() -> None:
    assert _one(chinacoords.wgs84_to_gcj02, 2.35, 48.85) == (2.35, 48.85)
    assert _one(chinacoords.gcj02_to_wgs84, -74.0, 40.7) == (-74.0, 40.7)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_round_trip_within_a_metre(lon: float, lat: float) -> None:
    for forward, inverse in (
        (chinacoords.wgs84_to_gcj02, chinacoords.gcj02_to_wgs84),
        (chinacoords.wgs84_to_bd09, chinacoords.bd09_to_wgs84),
        (chinacoords.gcj02_to_bd09, chinacoords.bd09_to_gcj02),
    ):
        back = _one(inverse, *_one(forward, lon, lat))
        assert distances_m(lon, lat, np.array([back[0]]), np.array([back[1]]))[0] < 1.0


@settings(max_examples=100, deadline=None)
@given(china_lon, china_lat)
def test_inverse_then_forward_reproduces_the_input(lon: float, lat: float) -> None:
    there = _one(chinacoords.bd09_to_wgs84, lon, lat)
    again = _one(chinacoords.wgs84_to_bd09, *there)
    assert again == pytest.approx((lon, lat), abs=1e-8)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("EPSG:4326", "EPSG:4326"),
        ("wgs84", "EPSG:4326"),
        ("WGS-84", "EPSG:4326"),
        ("epsg:4490", "EPSG:4490"),
        ("CGCS2000", "EPSG:4490"),
        ("gcj-02", "GCJ-02"),
        ("GCJ02", "GCJ-02"),
        ("bd-09", "BD-09"),
        ("Bd09", "BD-09"),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"),
        ("EPSG:32650", "EPSG:32650"),
    ],
)
def test_accepted_crs_names(name: str, canonical: str) -> None:
    assert resolve_crs(name).name == canonical


def test_wgs84_and_cgcs2000_pass_through() -> None:
    point = Point(115.974, 39.486)
    assert to_wgs84(point, "EPSG:4326").equals(point)
    assert to_wgs84(point, "CGCS2000").equals(point)


def test_other_epsg_codes_go_through_pyproj() -> None:
    # UTM zone 50N: easting 500 000 m is the central meridian, 117°E.
    converted = to_wgs84(Point(500_000, 4_400_000), "EPSG:32650")
    assert converted.x == pytest.approx(117.0, abs=1e-9)
    assert converted.y == pytest.approx(39.75, abs=0.01)


def test_shapes_convert_every_vertex_holes_included() -> None:
    shell = [(116.0, 39.0), (116.2, 39.0), (116.2, 39.2), (116.0, 39.2)]
    hole = [(116.05, 39.05), (116.1, 39.05), (116.1, 39.1)]
    converted = to_wgs84(Polygon(shell, [hole]), "GCJ-02")
    assert isinstance(converted, Polygon) and len(converted.interiors) == 1
    lon, lat = xy_to_wgs84([116.05], [39.05], "GCJ-02")
    assert converted.interiors[0].coords[0] == pytest.approx((lon[0], lat[0]))


def test_vectorised_matches_per_point() -> None:
    xs = np.linspace(114.0, 119.0, 50)
    ys = np.linspace(36.5, 42.0, 50)
    lon, lat = xy_to_wgs84(xs, ys, "BD-09")
    for i in (0, 17, 49):
        one = to_wgs84(Point(xs[i], ys[i]), "BD-09")
        assert (one.x, one.y) == pytest.approx((lon[i], lat[i]), abs=1e-12)


def test_unknown_crs_names_the_accepted_ones() -> None:
    with pytest.raises(ValidationFailed, match="GCJ-02") as caught:
        to_wgs84(Point(1, 2), "Mars")
    assert caught.value.details[0]["field"] == "crs"
    with pytest.raises(ValidationFailed):
        to_wgs84(Point(1, 2), "EPSG:999999")


@pytest.mark.parametrize(
    "point", [Point(181.0, 10.0), Point(10.0, -90.5), Point(math.nan, 10.0), Point(math.inf, 1)]
)
def test_out_of_range_results_are_refused(point: Point) -> None:
    with pytest.raises(ValidationFailed, match="out of range"):
        to_wgs84(point, "EPSG:4326")


def test_projected_values_that_leave_the_globe_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        xy_to_wgs84([1e12], [1e12], "EPSG:32650")


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_single_point_path_equals_the_vectorised_one(lon: float, lat: float) -> None:
    for crs in ("GCJ-02", "BD-09"):
        one = to_wgs84(Point(lon, lat), crs)
        many_lon, many_lat = xy_to_wgs84([lon], [lat], crs)
        assert (one.x, one.y) == pytest.approx((many_lon[0], many_lat[0]), abs=1e-9)
