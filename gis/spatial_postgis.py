"""The spatial questions answered by PostGIS (the distributed runtime).

Distances use geography (metres on the WGS-84 spheroid) through the expression GiST indexes
``geography(geometry)`` / ``geography(position)`` of migration 0002; containment uses the planar
GiST index on lon/lat, as the embedded store does with GEOS. Every value is a bound parameter of
a GeoAlchemy2/SQLAlchemy construct; no SQL is assembled from strings.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from geoalchemy2 import Geography
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ColumnElement,
    Engine,
    Float,
    String,
    column,
    exists,
    func,
    literal,
    select,
    update,
    values,
)
from sqlalchemy.orm import aliased

from gis import store
from gis.geodesy import SPHERE_SLACK
from gis.layers import Feature
from gis.models import DivisionRow, FeatureRow, UnitRow
from gis.spatial import FeatureHit, PositionReport, UnitHit, UnitPosition
from infra.db.geometry import GeometryColumn
from infra.db.types import UtcDateTime
from streams.domain import Unit, UnitStatus


def _point(lon: float, lat: float) -> ColumnElement[Any]:
    return func.ST_SetSRID(func.ST_MakePoint(literal(lon, Float), literal(lat, Float)), 4326)


def _geog(expression: Any) -> ColumnElement[Any]:
    # Exactly the expression of the GiST indexes of migration 0002, geography(geometry): a cast
    # with a type modifier, geography(Geometry,4326), would not match them and scan instead.
    return func.geography(expression, type_=Geography)


def _unit(row: Any) -> Unit:
    return Unit(
        id=row.id,
        agency=row.agency,
        type=row.type,
        name=row.name,
        status=UnitStatus(row.status),
        position=row.position,
        home_station=row.home_station,
        updated_at=row.updated_at,
    )


def _feature(row: Any) -> Feature:
    return Feature(row.layer, row.fid, row.name, row.geometry, row.kind, dict(row.properties))


class PostgisSpatial:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Reads need no transaction: autocommit spares the BEGIN and the ROLLBACK round trips
        # per query, a third of a dispatch query's latency on loopback.
        self.reader = engine.execution_options(isolation_level="AUTOCOMMIT")

    def refresh(self) -> None:
        """Nothing is cached: every answer comes from the database."""

    # -- units ------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        return store.read_units(self.engine)

    def write_units(self, units: Sequence[Unit]) -> None:
        store.write_units(self.engine, units)

    def update_positions(self, positions: Sequence[UnitPosition]) -> PositionReport:
        latest: dict[str, UnitPosition] = {}
        for position in positions:
            if position.id not in latest or latest[position.id].at <= position.at:
                latest[position.id] = position
        if not latest:
            return PositionReport(0)
        batch = values(
            column("id", String),
            column("lon", Float),
            column("lat", Float),
            column("status", String),
            column("at", UtcDateTime()),
            name="avl",
        ).data(
            [
                (p.id, p.lon, p.lat, p.status.value if p.status else None, p.at)
                for p in latest.values()
            ]
        )
        statement = (
            update(UnitRow)
            .where(UnitRow.id == batch.c.id, UnitRow.updated_at <= batch.c.at)
            .values(
                position=func.ST_SetSRID(func.ST_MakePoint(batch.c.lon, batch.c.lat), 4326),
                status=func.coalesce(batch.c.status, UnitRow.status),
                updated_at=batch.c.at,
            )
            .returning(UnitRow.id)
        )
        with self.engine.begin() as connection:
            updated = set(connection.execute(statement).scalars())
            known = set(
                connection.execute(select(UnitRow.id).where(UnitRow.id.in_(list(latest)))).scalars()
            )
        unknown = sorted(set(latest) - known)
        stale = sorted(known - updated)
        return PositionReport(len(updated), stale, unknown)

    def nearest_units(
        self,
        lon: float,
        lat: float,
        *,
        k: int,
        max_distance_m: float | None,
        types: Collection[str] | None,
        statuses: Collection[UnitStatus],
    ) -> list[UnitHit]:
        here = _geog(_point(lon, lat))
        position = _geog(UnitRow.position)
        filters: list[ColumnElement[bool]] = [
            UnitRow.position.is_not(None),
            UnitRow.status.in_([s.value for s in statuses]),
        ]
        if types is not None:
            filters.append(UnitRow.type.in_(list(types)))
        knn_filters = list(filters)
        if max_distance_m is not None:
            # Spherical (cheap) pre-filter, widened so that it never drops a unit in range.
            knn_filters.append(
                func.ST_DWithin(position, here, max_distance_m * SPHERE_SLACK, False)
            )
        # Stage 1, index-ordered KNN: <-> on geography is the spherical distance. The k nearest on
        # the sphere bound the k nearest on the spheroid within SPHERE_SLACK (see gis.geodesy).
        knn = (
            select(position.op("<->", return_type=Float())(here).label("d"))
            .where(*knn_filters)
            .order_by(position.op("<->", return_type=Float())(here))
            .limit(k)
            .subquery()
        )
        bound = select(func.max(knn.c.d) * SPHERE_SLACK + 1.0).scalar_subquery()
        radius: ColumnElement[Any] = bound
        if max_distance_m is not None:
            radius = func.least(radius, max_distance_m)
        distance = func.ST_Distance(position, here).label("distance_m")
        # Stage 2: exact spheroid distances of the few candidates within that radius.
        query = (
            select(*UnitRow.__table__.c, distance)
            .where(*filters)
            .where(func.ST_DWithin(position, here, radius))
            .order_by(distance, UnitRow.id)
            .limit(k)
        )
        with self.reader.connect() as connection:
            rows = connection.execute(query).all()
        return [UnitHit(_unit(row), float(row.distance_m)) for row in rows]

    # -- static layers ----------------------------------------------------------------------

    def features_within(
        self, lon: float, lat: float, distance_m: float, layers: Collection[str]
    ) -> list[FeatureHit]:
        here = _geog(_point(lon, lat))
        geography = _geog(FeatureRow.geometry)
        distance = func.ST_Distance(geography, here).label("distance_m")
        query = (
            select(*FeatureRow.__table__.c, distance)
            .where(FeatureRow.layer.in_(sorted(set(layers))))
            .where(func.ST_DWithin(geography, here, distance_m))
            .order_by(distance, FeatureRow.layer, FeatureRow.fid)
        )
        with self.reader.connect() as connection:
            rows = connection.execute(query).all()
        return [FeatureHit(_feature(row), float(row.distance_m)) for row in rows]

    def features_in(self, area: BaseGeometry, layers: Collection[str]) -> list[Feature]:
        shape = literal(area, GeometryColumn())
        query = (
            select(*FeatureRow.__table__.c)
            .where(FeatureRow.layer.in_(sorted(set(layers))))
            .where(func.ST_Intersects(FeatureRow.geometry, shape))
            .order_by(FeatureRow.layer, FeatureRow.fid)
        )
        with self.reader.connect() as connection:
            return [_feature(row) for row in connection.execute(query)]

    def zones_containing(self, lon: float, lat: float, layers: Collection[str]) -> list[Feature]:
        query = (
            select(*FeatureRow.__table__.c)
            .where(FeatureRow.layer.in_(sorted(set(layers))))
            .where(func.ST_Intersects(FeatureRow.geometry, _point(lon, lat)))
            .order_by(FeatureRow.layer, FeatureRow.fid)
        )
        with self.reader.connect() as connection:
            return [_feature(row) for row in connection.execute(query)]

    # -- divisions --------------------------------------------------------------------------

    def leaf_covering(self, lon: float, lat: float) -> str | None:
        """The leaf division covering a point by ST_Covers over geo_divisions, with the same
        lowest-adcode rule on shared borders as the in-process index (a cross-check)."""
        child = aliased(DivisionRow)
        query = (
            select(DivisionRow.adcode)
            .where(~exists().where(child.parent_adcode == DivisionRow.adcode))
            .where(func.ST_Covers(DivisionRow.geometry, _point(lon, lat)))
            .order_by(DivisionRow.adcode)
            .limit(1)
        )
        with self.reader.connect() as connection:
            return connection.execute(query).scalar_one_or_none()
