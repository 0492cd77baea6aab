"""A geometry column that is PostGIS ``geometry(…, 4326)`` on PostgreSQL and WKB on SQLite.

Application code reads and writes shapely geometries on both; spatial SQL on PostGIS goes through
GeoAlchemy2 functions, and the embedded store answers the same questions with shapely in process.
"""

from __future__ import annotations

from typing import Any

import shapely
from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement
from shapely.geometry.base import BaseGeometry
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

WGS84 = 4326


class GeometryColumn(TypeDecorator[BaseGeometry]):
    impl = LargeBinary
    cache_ok = True
    # Read by GeoAlchemy2's DDL hooks; the migrations create GiST indexes themselves.
    spatial_index = False

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        # GeoAlchemy2's DDL hooks probe with no dialect: answer "not spatial" so that they leave
        # this column's DDL to SQLAlchemy, which then compiles the PostgreSQL type below.
        if dialect is not None and dialect.name == "postgresql":
            # Indexes are created by the migrations, so GeoAlchemy2 must not add its own.
            return dialect.type_descriptor(
                Geometry(self.geometry_type, srid=WGS84, spatial_index=False)
            )
        return LargeBinary() if dialect is None else dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            # Hex EWKB is what PostGIS's geometry input reads natively: no bind function needed.
            return shapely.to_wkb(shapely.set_srid(value, WGS84), hex=True, include_srid=True)
        return shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if isinstance(value, WKBElement):
            raw = value.data
            return shapely.from_wkb(bytes(raw) if isinstance(raw, memoryview) else raw)
        if isinstance(value, str):
            return shapely.from_wkb(value)
        return shapely.from_wkb(bytes(value))
