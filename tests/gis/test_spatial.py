"""The spatial questions give the same answers on PostGIS and on the embedded store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from gis.geodesy import geodesic_circle
from gis.layers import Feature
from gis.service import GeoService
from gis.spatial import UnitPosition
from infra.errors import ValidationFailed
from streams.domain import Unit, UnitStatus

T0 = datetime(2023, 7, 31, 8, 0, tzinfo=UTC)
STATUSES = [UnitStatus.AVAILABLE, UnitStatus.AVAILABLE, UnitStatus.DISPATCHED]
# Offsets of up to ±0.6° around a centre in Hebei (~50–65 km).
offset = st.floats(-0.6, 0.6, allow_nan=False)
units_strategy = st.lists(
    st.tuples(offset, offset, st.sampled_from(STATUSES), st.sampled_from(["a", "b"])),
    min_size=1,
    max_size=25,
)
PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def stores(geo_sqlite: GeoService, geo_postgis: GeoService) -> tuple[GeoService, GeoService]:
    return geo_sqlite, geo_postgis


@PROPERTY
@given(
    units_strategy,
    offset,
    offset,
    st.integers(1, 6),
    st.one_of(st.none(), st.floats(0, 80_000)),
    st.sampled_from([None, ["a"], ["a", "b"]]),
)
def test_nearest_units_agree(
    stores: tuple[GeoService, GeoService],
    placed: list[tuple[float, float, UnitStatus, str]],
    dx: float,
    dy: float,
    k: int,
    max_distance: float | None,
    kinds: list[str] | None,
) -> None:
    # Types unique to this example keep examples (and the sample units) out of each other's way.
    tag = uuid.uuid4().hex[:8]
    units = [
        Unit(
            id=f"{tag}-{i:02d}",
            agency="fire",
            type=f"{tag}{kind}",
            name=f"u{i}",
            status=status,
            position=Point(115.5 + x, 38.9 + y),
            updated_at=T0,
        )
        for i, (x, y, status, kind) in enumerate(placed)
    ]
    wanted = [f"{tag}{kind}" for kind in (kinds or ["a", "b"])]
    answers = []
    for geo in stores:
        geo.upsert_units(units)
        hits = geo.nearest_units(
            115.5 + dx, 38.9 + dy, k=k, max_distance_m=max_distance, types=wanted
        )
        answers.append([(h.unit.id, h.distance_m) for h in hits])
    embedded, postgis = answers
    assert [i for i, _ in embedded] == [i for i, _ in postgis]
    for (_, a), (_, b) in zip(embedded, postgis, strict=True):
        assert a == pytest.approx(b, abs=1e-3)
    # And the answer is right: no available unit of those types left out is nearer.
    expected = sorted(
        (geo_distance(stores[0], u, 115.5 + dx, 38.9 + dy), u.id)
        for u in units
        if u.status is UnitStatus.AVAILABLE and u.type in wanted
    )
    if max_distance is not None:
        expected = [e for e in expected if e[0] <= max_distance]
    assert [i for i, _ in embedded] == [i for _, i in expected[:k]]


def geo_distance(geo: GeoService, unit: Unit, lon: float, lat: float) -> float:
    from gis.geodesy import distance_to_geometry_m

    assert unit.position is not None
    return distance_to_geometry_m(lon, lat, unit.position)


@PROPERTY
@given(
    st.lists(st.tuples(offset, offset), min_size=1, max_size=20),
    st.lists(st.tuples(offset, offset, st.floats(500, 30_000)), min_size=1, max_size=6),
    offset,
    offset,
    st.floats(0, 60_000),
)
def test_within_distance_inside_area_and_containing_zones_agree(
    stores: tuple[GeoService, GeoService],
    points: list[tuple[float, float]],
    circles: list[tuple[float, float, float]],
    dx: float,
    dy: float,
    distance: float,
) -> None:
    tag = uuid.uuid4().hex[:8]
    shelters = [
        Feature(
            "shelters",
            f"{tag}-{i}",
            f"s{i}",
            Point(115.5 + x, 38.9 + y),
            None,
            {"capacity": 100 + i},
        )
        for i, (x, y) in enumerate(points)
    ]
    areas = [
        Feature(
            "warning_areas",
            f"{tag}-{i}",
            f"w{i}",
            geodesic_circle(115.5 + x, 38.9 + y, radius),
            "test",
            {},
        )
        for i, (x, y, radius) in enumerate(circles)
    ]
    lon, lat = 115.5 + dx, 38.9 + dy
    area = box(lon - 0.2, lat - 0.15, lon + 0.25, lat + 0.1)
    results = []
    for geo in stores:
        geo.upsert_features("shelters", shelters)
        geo.upsert_features("warning_areas", areas)
        within = [
            (h.feature.fid, h.distance_m)
            for h in geo.features_within(lon, lat, distance, ["shelters"])
            if h.feature.fid.startswith(tag)
        ]
        inside = [
            f.fid
            for f in geo.features_in(area, ["shelters", "warning_areas"])
            if f.fid.startswith(tag)
        ]
        zones = [
            f.fid
            for f in geo.zones_containing(lon, lat, ["warning_areas"])
            if f.fid.startswith(tag)
        ]
        results.append((within, inside, zones))
    (w1, i1, z1), (w2, i2, z2) = results
    assert [f for f, _ in w1] == [f for f, _ in w2]
    assert all(a == pytest.approx(b, abs=1e-3) for (_, a), (_, b) in zip(w1, w2, strict=True))
    assert i1 == i2 and z1 == z2
    assert all(d <= distance for _, d in w1)


def test_avl_positions_newest_wins(stores: tuple[GeoService, GeoService]) -> None:
    for geo in stores:
        tag = uuid.uuid4().hex[:8]
        geo.upsert_units(
            [
                Unit(
                    id=f"{tag}-1",
                    agency="fire",
                    type=f"{tag}",
                    name="engine",
                    position=Point(115.0, 38.0),
                    updated_at=T0,
                )
            ]
        )
        report = geo.upsert_unit_positions(
            [
                UnitPosition(
                    f"{tag}-1", 115.2, 38.2, T0 + timedelta(minutes=2), UnitStatus.DISPATCHED
                ),
                UnitPosition(f"{tag}-1", 115.1, 38.1, T0 + timedelta(minutes=1)),
                UnitPosition(f"{tag}-missing", 115.1, 38.1, T0),
            ]
        )
        assert (report.updated, report.unknown) == (1, [f"{tag}-missing"])
        older = geo.upsert_unit_positions([UnitPosition(f"{tag}-1", 116, 39, T0)])
        assert (older.updated, older.stale) == (0, [f"{tag}-1"])
        unit = next(u for u in geo.units() if u.id == f"{tag}-1")
        assert unit.status is UnitStatus.DISPATCHED and unit.position == Point(115.2, 38.2)
        # Dispatched now: no longer among the available ones, but found when asked for.
        assert geo.nearest_units(115.2, 38.2, types=[tag]) == []
        found = geo.nearest_units(115.2, 38.2, types=[tag], statuses=[UnitStatus.DISPATCHED])
        assert found[0].distance_m == pytest.approx(0.0, abs=1e-6)
        with pytest.raises(ValidationFailed):
            geo.upsert_unit_positions([UnitPosition(f"{tag}-1", 200, 38, T0)])


def test_exposure_agrees_and_counts_baoding(stores: tuple[GeoService, GeoService]) -> None:
    answers = [geo.exposure(Point(115.48, 38.87), radius_m=20_000) for geo in stores]
    assert answers[0] == answers[1]
    exposure = answers[0]
    assert "Baoding" in exposure.places and exposure.population >= 1_107_000
    assert exposure.facilities["hospitals"] >= 2 and exposure.hospital_beds > 0
    assert exposure.icu_beds > 0 and exposure.shelter_capacity > 0


def test_sample_zones_and_hazard_buffers(stores: tuple[GeoService, GeoService]) -> None:
    for geo in stores:
        names = [f.name for f in geo.zones_containing(115.95, 38.93)]
        assert "白洋淀" in names
        hazard = next(f for f in geo.features_in(box(114, 36, 120, 42), ["hazard_sources"]))
        inside = geo.zones_containing(hazard.geometry.x, hazard.geometry.y, ["hazard_buffers"])
        assert hazard.fid in [f.fid for f in inside]


def test_bad_questions_are_refused(geo_sqlite: GeoService) -> None:
    with pytest.raises(ValidationFailed):
        geo_sqlite.nearest_units(115, 38, k=0)
    with pytest.raises(ValidationFailed):
        geo_sqlite.features_within(115, 95, 100)
    with pytest.raises(ValidationFailed):
        geo_sqlite.exposure(box(0, 0, 1, 1), radius_m=10)
