"""GeoService: the platform's geography, one object per process (``runtime.geo``).

It answers the jurisdiction of points from the in-process grid index (both runtimes: it is the
hot path of stream enrichment) and the spatial questions from the store the settings choose:
PostGIS in SQL, or the embedded store in memory. Divisions and layers live in the database; a
fresh database is seeded with the bundled Hebei divisions and sample layers on first open.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, func, select

from gis import loaders, store
from gis.divisions import Division, Hierarchy
from gis.geodesy import geodesic_circle
from gis.grid import GridIndex, content_key
from gis.layers import FACILITY_LAYERS, LAYERS, ZONE_LAYERS, Feature, spec_of
from gis.mapdata import MapData
from gis.models import DivisionRow
from gis.spatial import (
    AVAILABLE,
    Exposure,
    FeatureHit,
    PositionReport,
    SpatialStore,
    UnitHit,
    UnitPosition,
    exposure_of,
)
from gis.spatial_memory import MemorySpatial
from gis.spatial_postgis import PostgisSpatial
from infra.errors import ValidationFailed
from infra.settings import Settings
from streams.domain import Jurisdiction, Unit, UnitStatus

log = logging.getLogger(__name__)

OUTSIDE = Jurisdiction()
GRID_CACHE = "jurisdiction-grid.npz"
MAX_RADIUS_M = 1_000_000.0
# Arbitrary constant naming the advisory lock of the first-start seeding ("gis-seed").
SEED_LOCK = 0x6769735F73656564


@contextmanager
def _seeding(engine: Engine) -> Iterator[None]:
    """Several servers and workers may start on one fresh PostGIS database at once: a session
    advisory lock lets exactly one of them seed it while the others wait, then find it full."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(select(func.pg_advisory_lock(SEED_LOCK)))
        connection.commit()
        try:
            yield
        finally:
            connection.execute(select(func.pg_advisory_unlock(SEED_LOCK)))
            connection.commit()


def _check_point(lon: float, lat: float) -> None:
    if not (np.isfinite(lon) and np.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise ValidationFailed(
            f"({lon}, {lat}) is not a WGS-84 lon/lat position",
            details=[{"field": "lon/lat", "lon": str(lon), "lat": str(lat)}],
        )


class GeoService:
    def __init__(self, engine: Engine, divisions: Sequence[Division], grid_cache: Any) -> None:
        self.engine = engine
        self.hierarchy = Hierarchy(divisions)
        leaves = self.hierarchy.leaves
        geometries = [leaf.geometry for leaf in leaves]
        key = content_key([leaf.adcode for leaf in leaves], geometries)
        self.grid: GridIndex | None = (
            GridIndex.cached(grid_cache, key, geometries) if leaves else None
        )
        # Index -1 (OUTSIDE in the grid) picks the last entry: the all-None jurisdiction.
        answers = [self.hierarchy.jurisdiction(leaf) for leaf in leaves] + [OUTSIDE]
        self._answers = np.empty(len(answers), dtype=object)
        self._answers[:] = answers
        self.spatial: SpatialStore = (
            PostgisSpatial(engine) if engine.dialect.name == "postgresql" else MemorySpatial(engine)
        )
        self.map = MapData(engine, self.hierarchy)

    @classmethod
    def open(cls, settings: Settings, engine: Engine) -> GeoService:
        """Load divisions and layers from the database, seeding a fresh one with the bundled
        Hebei divisions and sample layers; the grid index is cached under the data dir."""
        with _seeding(engine):
            with engine.connect() as connection:
                count = connection.execute(select(func.count()).select_from(DivisionRow))
                empty = count.scalar_one() == 0
            if empty:
                log.info("fresh database: loading the bundled divisions and sample layers")
                loaders.load_divisions(engine, None)
                loaders.load_samples(engine)
        divisions = store.read_divisions(engine)
        return cls(engine, divisions, settings.data_dir / GRID_CACHE)

    # -- jurisdiction (hot path) -------------------------------------------------------------

    def lookup(self, lon: float, lat: float) -> Jurisdiction:
        return self.lookup_many(np.array([lon], dtype=np.float64), np.array([lat]))[0]

    def lookup_ranks(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Leaf index per point (into ``hierarchy.leaves``), -1 outside: the raw array form."""
        if self.grid is None:
            return np.full(np.shape(lons), -1, dtype=np.intp)
        return self.grid.ranks(lons, lats)

    def lookup_many(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> list[Jurisdiction]:
        """Province/city/county of each WGS-84 point; outside every division (or NaN) → all None.
        A point on a shared border belongs to the county with the lower adcode."""
        result: list[Jurisdiction] = self._answers[self.lookup_ranks(lons, lats)].tolist()
        return result

    def division_name(self, adcode: str) -> str | None:
        return self.hierarchy.name(adcode)

    def describe(self, jurisdiction: Jurisdiction) -> dict[str, dict[str, str] | None]:
        """The API form: ``{"province": {"adcode", "name"} | None, "city": …, "county": …}``."""
        out: dict[str, dict[str, str] | None] = {}
        for level, code in jurisdiction.to_json().items():
            name = None if code is None else self.division_name(code)
            out[level] = None if code is None else {"adcode": code, "name": name or code}
        return out

    def lookup_in_database(self, lon: float, lat: float) -> Jurisdiction:
        """The same question answered by ST_Covers over geo_divisions on PostGIS (or by the
        exact polygon test embedded): a cross-check of the grid, not for the hot path."""
        _check_point(lon, lat)
        if isinstance(self.spatial, PostgisSpatial):
            code = self.spatial.leaf_covering(lon, lat)
            leaf = None if code is None else self.hierarchy.by_code[code]
            return OUTSIDE if leaf is None else self.hierarchy.jurisdiction(leaf)
        if self.grid is None:
            return OUTSIDE
        rank = int(self.grid.locator.locate(np.array([lon]), np.array([lat]))[0])
        return OUTSIDE if rank < 0 else self.hierarchy.jurisdiction(self.hierarchy.leaves[rank])

    # -- units -------------------------------------------------------------------------------

    def upsert_units(self, units: Sequence[Unit]) -> None:
        """Create or fully update units (roster changes)."""
        for unit in units:
            if unit.position is not None:
                _check_point(unit.position.x, unit.position.y)
        self.spatial.write_units(units)

    def upsert_unit_positions(self, positions: Sequence[UnitPosition]) -> PositionReport:
        """Batch AVL write: positions (and statuses) of known units; reports older than the
        stored one are ignored, unknown ids reported back."""
        for p in positions:
            _check_point(p.lon, p.lat)
        return self.spatial.update_positions(positions)

    def units(self) -> list[Unit]:
        return self.spatial.units()

    def nearest_units(
        self,
        lon: float,
        lat: float,
        *,
        k: int = 5,
        max_distance_m: float | None = None,
        types: Collection[str] | None = None,
        statuses: Collection[UnitStatus] = AVAILABLE,
    ) -> list[UnitHit]:
        """The k nearest units (available ones by default) of the given types, by geodesic
        distance, within ``max_distance_m`` when given; ties by unit id."""
        _check_point(lon, lat)
        if k < 1:
            raise ValidationFailed(f"k must be at least 1, not {k}")
        if max_distance_m is not None and not 0 <= max_distance_m <= MAX_RADIUS_M:
            raise ValidationFailed(f"max_distance_m must be within 0..{MAX_RADIUS_M:.0f}")
        return self.spatial.nearest_units(
            lon, lat, k=k, max_distance_m=max_distance_m, types=types, statuses=statuses
        )

    # -- static layers -------------------------------------------------------------------------

    def features_within(
        self, lon: float, lat: float, distance_m: float, layers: Collection[str] = FACILITY_LAYERS
    ) -> list[FeatureHit]:
        """Facilities (or any layers) within ``distance_m`` metres, nearest first."""
        _check_point(lon, lat)
        if not 0 <= distance_m <= MAX_RADIUS_M:
            raise ValidationFailed(f"distance_m must be within 0..{MAX_RADIUS_M:.0f}")
        for layer in layers:
            spec_of(layer)
        return self.spatial.features_within(lon, lat, distance_m, layers)

    def features_in(
        self, area: BaseGeometry, layers: Collection[str] = FACILITY_LAYERS
    ) -> list[Feature]:
        """Features of the layers that intersect an area (WGS-84)."""
        for layer in layers:
            spec_of(layer)
        if area.is_empty or not area.is_valid:
            raise ValidationFailed("the area must be a valid, non-empty geometry")
        return self.spatial.features_in(area, layers)

    def zones_containing(
        self, lon: float, lat: float, layers: Collection[str] = ZONE_LAYERS
    ) -> list[Feature]:
        """Flood-risk zones, warning areas and hazard buffer zones that contain a point."""
        _check_point(lon, lat)
        return self.spatial.zones_containing(lon, lat, layers)

    def exposure(self, area: BaseGeometry, radius_m: float | None = None) -> Exposure:
        """Population (Natural Earth places) and facilities in an incident area; a point with
        ``radius_m`` stands for the geodesic circle around it."""
        if radius_m is not None:
            if not isinstance(area, Point):
                raise ValidationFailed("radius_m goes with a point")
            if not 0 < radius_m <= MAX_RADIUS_M:
                raise ValidationFailed(f"radius_m must be within 0..{MAX_RADIUS_M:.0f}")
            area = geodesic_circle(area.x, area.y, radius_m)
        layers = ("places", *FACILITY_LAYERS, *ZONE_LAYERS)
        return exposure_of(self.features_in(area, layers))

    def upsert_features(self, layer: str, features: Sequence[Feature]) -> None:
        """Add or replace features of a layer by id (e.g. the areas of live CAP warnings)."""
        spec = spec_of(layer)
        loaders.upsert_layer_features(self.engine, spec, features)
        self.spatial.refresh()

    def remove_features(self, layer: str, fids: Sequence[str]) -> int:
        spec_of(layer)
        removed = store.delete_features(self.engine, layer, fids)
        self.spatial.refresh()
        return removed

    def layers(self) -> list[store.LayerInfo]:
        return [info for info in store.layer_infos(self.engine) if info.name in LAYERS]
