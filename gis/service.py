"""GeoService: the platform's geography, one object per process (``runtime.geo``).

Provisional first cut that fixes the interface others code against; the database-backed
divisions, grid index and spatial questions follow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape
from sqlalchemy import Engine

from gis.crs import to_wgs84
from infra.settings import Settings
from streams.domain import Jurisdiction

BUNDLED_DIVISIONS = Path(__file__).parent / "data" / "hebei_divisions.geojson"
OUTSIDE = Jurisdiction()


class GeoService:
    def __init__(
        self, names: dict[str, str], leaves: list[tuple[str, Jurisdiction]], geoms: list[object]
    ) -> None:
        self._names = names
        self._answers = np.array([j for _, j in leaves] + [OUTSIDE], dtype=object)
        self._geoms = np.array(geoms, dtype=object)
        self._tree = shapely.STRtree(self._geoms)

    @classmethod
    def open(cls, settings: Settings, engine: Engine) -> GeoService:
        doc = json.loads(BUNDLED_DIVISIONS.read_text(encoding="utf-8"))
        props = {f["properties"]["adcode"]: f["properties"] for f in doc["features"]}
        names = {code: p["name"] for code, p in props.items()}
        leaves: list[tuple[str, Jurisdiction]] = []
        geoms: list[object] = []
        for feature in sorted(doc["features"], key=lambda f: f["properties"]["adcode"]):
            p = feature["properties"]
            if p["level"] != "county":
                continue
            city = p["parent_adcode"]
            province = props[city]["parent_adcode"] if city in props else None
            leaves.append((p["adcode"], Jurisdiction(province, city, p["adcode"])))
            geoms.append(to_wgs84(shape(feature["geometry"]), "GCJ-02"))
        return cls(names, leaves, geoms)

    def lookup(self, lon: float, lat: float) -> Jurisdiction:
        return self.lookup_many(np.array([lon]), np.array([lat]))[0]

    def lookup_many(
        self, lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64]
    ) -> list[Jurisdiction]:
        points = shapely.points(np.asarray(lons, dtype=np.float64), np.asarray(lats, np.float64))
        ranks = np.full(len(points), len(self._geoms), dtype=np.intp)
        idx_point, idx_geom = self._tree.query(points, predicate="intersects")
        np.minimum.at(ranks, idx_point, idx_geom)
        result: list[Jurisdiction] = self._answers[ranks].tolist()
        return result

    def division_name(self, adcode: str) -> str | None:
        return self._names.get(adcode)
