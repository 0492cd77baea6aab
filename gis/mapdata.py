"""Map data for the console: simplified GeoJSON per zoom band, and MVT tiles from PostGIS.

The console runs on isolated networks with no basemap, so the divisions, rivers and static
layers come from here. Each layer is simplified once per zoom band and kept in memory, keyed by
the layer's version in ``geo_layers``; the version (checked with one small query per request)
is the ETag, so a reload by ``linkage geo load`` shows up at once and an unchanged layer costs
the browser a 304. Divisions are simplified as a coverage (``shapely.coverage_simplify``), so
neighbouring counties keep sharing their simplified border: no slivers or gaps at low zoom.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, Integer, func, literal, select

from gis import store
from gis.divisions import Hierarchy
from gis.layers import LAYERS, spec_of
from gis.models import DivisionRow, FeatureRow
from infra.errors import NotFound, ValidationFailed

DIVISION_LAYERS = {"provinces": "province", "cities": "city", "counties": "county"}
# (highest zoom of the band, simplification tolerance in degrees, decimals kept). A pixel spans
# 360/(256·2^z) degrees, so each tolerance is about half a pixel at the band's highest zoom;
# zoom 14 and above get the full geometry.
BANDS: tuple[tuple[int, float, int], ...] = (
    (5, 0.02, 3),
    (7, 0.005, 4),
    (9, 0.0013, 4),
    (11, 0.0003, 5),
    (13, 0.00008, 5),
    (99, 0.0, 6),
)
CACHE_CONTROL = "public, max-age=300, must-revalidate"
MAX_TILE_ZOOM = 20


@dataclass(frozen=True, slots=True)
class MapDocument:
    body: bytes
    etag: str
    # Compressed once when cached: division GeoJSON shrinks about fivefold, and the console
    # fetches each layer at a few zoom steps.
    gzipped: bytes


def band_of(zoom: int) -> int:
    if not 0 <= zoom <= 24:
        raise ValidationFailed(f"zoom must be within 0..24, not {zoom}")
    return next(i for i, (top, _, _) in enumerate(BANDS) if zoom <= top)


def layer_names() -> list[str]:
    return [*DIVISION_LAYERS, *LAYERS]


def _rounded(geometries: np.ndarray[Any, Any], decimals: int) -> np.ndarray[Any, Any]:
    rounded: np.ndarray[Any, Any] = shapely.transform(
        geometries, lambda coords: np.round(coords, decimals)
    )
    # Rounding can fold a tiny ring onto itself; repair rather than serve invalid shapes.
    invalid = ~shapely.is_valid(rounded)
    if invalid.any():
        rounded[invalid] = shapely.make_valid(rounded[invalid])
    return rounded


def _collection(geometries: np.ndarray[Any, Any], properties: list[dict[str, Any]]) -> bytes:
    parts = [
        '{"type":"Feature","properties":'
        + json.dumps(props, ensure_ascii=False, separators=(",", ":"))
        + ',"geometry":'
        + geometry_json
        + "}"
        for props, geometry_json in zip(properties, shapely.to_geojson(geometries), strict=True)
        if geometry_json is not None
    ]
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}").encode()


class MapData:
    def __init__(self, engine: Engine, hierarchy: Hierarchy) -> None:
        self.engine = engine
        self.hierarchy = hierarchy
        self._cache: dict[tuple[str, int, str], MapDocument] = {}
        self._lock = threading.Lock()

    def version(self, layer: str) -> str:
        if layer not in DIVISION_LAYERS and layer not in LAYERS:
            raise NotFound(f"no map layer {layer!r}; layers: {', '.join(layer_names())}")
        source = store.DIVISIONS_LAYER if layer in DIVISION_LAYERS else layer
        return store.layer_version(self.engine, source) or "empty"

    def etag(self, layer: str, zoom: int) -> str:
        return f'"{self.version(layer)[:20]}-{layer}-b{band_of(zoom)}"'

    def geojson(self, layer: str, zoom: int) -> MapDocument:
        band = band_of(zoom)
        version = self.version(layer)
        key = (layer, band, version)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        body = self._build(layer, band)
        document = MapDocument(
            body, f'"{version[:20]}-{layer}-b{band}"', gzip.compress(body, compresslevel=6)
        )
        with self._lock:
            # Older versions of this layer are never asked for again.
            for stale in [k for k in self._cache if k[0] == layer and k[2] != version]:
                del self._cache[stale]
            self._cache[key] = document
        return document

    def _build(self, layer: str, band: int) -> bytes:
        _, tolerance, decimals = BANDS[band]
        if layer in DIVISION_LAYERS:
            divisions = [
                d for d in store.read_divisions(self.engine) if d.level == DIVISION_LAYERS[layer]
            ]
            geometries = np.array([d.geometry for d in divisions], dtype=object)
            if tolerance and len(geometries):
                geometries = shapely.coverage_simplify(geometries, tolerance)
            properties = [
                {
                    "adcode": d.adcode,
                    "name": d.name,
                    "level": d.level,
                    "parent_adcode": d.parent_adcode,
                }
                for d in divisions
            ]
            return _collection(_rounded(geometries, decimals), properties)
        features = store.read_features(self.engine, spec_of(layer).name)
        geometries = np.array([f.geometry for f in features], dtype=object)
        if tolerance and len(geometries):
            geometries = shapely.simplify(geometries, tolerance, preserve_topology=True)
        properties = [
            {"fid": f.fid, "name": f.name, "kind": f.kind, **f.properties} for f in features
        ]
        return _collection(_rounded(geometries, decimals), properties)

    # -- vector tiles (PostGIS) -------------------------------------------------------------

    def tile(self, layer: str, z: int, x: int, y: int) -> bytes:
        if self.engine.dialect.name != "postgresql":
            raise NotFound(
                "vector tiles are served by PostGIS (ST_AsMVT); the embedded runtime serves "
                f"/api/v1/geo/layers/{layer}.geojson?zoom={z} instead"
            )
        if not 0 <= z <= MAX_TILE_ZOOM or not (0 <= x < 2**z and 0 <= y < 2**z):
            raise ValidationFailed(f"no tile {z}/{x}/{y}")
        self.version(layer)  # unknown layer → NotFound
        envelope = func.ST_TileEnvelope(
            literal(z, Integer), literal(x, Integer), literal(y, Integer)
        )
        bbox = func.ST_Transform(envelope, 4326)
        if layer in DIVISION_LAYERS:
            geometry = DivisionRow.geometry
            columns: list[Any] = [DivisionRow.adcode, DivisionRow.name, DivisionRow.level]
            where: list[Any] = [DivisionRow.level == DIVISION_LAYERS[layer]]
        else:
            geometry = FeatureRow.geometry
            columns = [FeatureRow.fid, FeatureRow.name, FeatureRow.kind, FeatureRow.properties]
            where = [FeatureRow.layer == layer]
        mvt_geometry = func.ST_AsMVTGeom(
            func.ST_Transform(geometry, 3857), envelope, 4096, 64, True
        ).label("geom")
        rows = (
            select(mvt_geometry, *columns)
            .where(*where, func.ST_Intersects(geometry, bbox))
            .subquery()
        )
        query = select(func.ST_AsMVT(rows.table_valued(), layer, 4096, "geom"))
        with self.engine.connect() as connection:
            data = connection.execute(query).scalar_one()
        return bytes(data or b"")
