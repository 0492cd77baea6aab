"""The spatial questions answered in process: the embedded runtime (SQLite, no SpatiaLite).

Static layers sit in one shapely STRtree per layer. Units move every few seconds, so they are
kept as numpy arrays (rebuilding a tree per AVL batch would cost more than it saves): a nearest
query filters by status and type, ranks by haversine distance, and measures the few that can be
among the k nearest exactly on the ellipsoid. SQLite stays the source of truth; every write goes
through this object, which updates the arrays after the transaction commits.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import replace

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, bindparam, update

from gis import store
from gis.geodesy import (
    SPHERE_SLACK,
    degree_box,
    distance_to_geometry_m,
    distances_m,
    sphere_distances_m,
)
from gis.layers import Feature
from gis.models import UnitRow
from gis.spatial import FeatureHit, PositionReport, UnitHit, UnitPosition
from streams.domain import Unit, UnitStatus


class _LayerIndex:
    def __init__(self, features: list[Feature]) -> None:
        self.features = features
        self.geometries = np.array([f.geometry for f in features], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)


class _UnitArrays:
    def __init__(self, units: Sequence[Unit]) -> None:
        self.units = list(units)
        has = np.array([u.position is not None for u in units], dtype=bool)
        self.lon = np.array([u.position.x if u.position is not None else np.nan for u in units])
        self.lat = np.array([u.position.y if u.position is not None else np.nan for u in units])
        self.status = np.array([u.status.value for u in units], dtype=str)
        self.type = np.array([u.type for u in units], dtype=str)
        self.located = has


class MemorySpatial:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._layers: dict[str, _LayerIndex] = {}
        self._units: dict[str, Unit] = {}
        self._arrays: _UnitArrays | None = None
        # The API's worker threads and the stream runner share this object: writers hold the
        # lock through their database write (so stale checks see committed state), readers only
        # while they take a snapshot.
        self._lock = threading.RLock()
        self.refresh()

    def refresh(self) -> None:
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        by_layer: dict[str, list[Feature]] = {}
        for feature in store.read_features(self.engine):
            by_layer.setdefault(feature.layer, []).append(feature)
        self._layers = {name: _LayerIndex(features) for name, features in by_layer.items()}
        self._units = {u.id: u for u in store.read_units(self.engine)}
        self._arrays = None

    # -- units ------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        with self._lock:
            return [self._units[key] for key in sorted(self._units)]

    def write_units(self, units: Sequence[Unit]) -> None:
        with self._lock:
            store.write_units(self.engine, units)
            for unit in units:
                self._units[unit.id] = unit
            self._arrays = None

    def update_positions(self, positions: Sequence[UnitPosition]) -> PositionReport:
        with self._lock:
            return self._update_positions(positions)

    def _update_positions(self, positions: Sequence[UnitPosition]) -> PositionReport:
        latest: dict[str, UnitPosition] = {}
        for position in positions:  # within one batch the newest report of a unit wins
            if position.id not in latest or latest[position.id].at <= position.at:
                latest[position.id] = position
        unknown = sorted(key for key in latest if key not in self._units)
        stale = sorted(
            key
            for key, p in latest.items()
            if key in self._units and self._units[key].updated_at > p.at
        )
        fresh = [p for key, p in latest.items() if key in self._units and key not in stale]
        if fresh:
            statement = (
                update(UnitRow)
                .where(UnitRow.id == bindparam("b_id"), UnitRow.updated_at <= bindparam("b_at"))
                .values(
                    position=bindparam("b_position"),
                    status=bindparam("b_status"),
                    updated_at=bindparam("b_at"),
                )
            )
            with self.engine.begin() as connection:
                connection.execute(
                    statement,
                    [
                        {
                            "b_id": p.id,
                            "b_at": p.at,
                            "b_position": Point(p.lon, p.lat),
                            "b_status": (p.status or self._units[p.id].status).value,
                        }
                        for p in fresh
                    ],
                )
            for p in fresh:
                unit = self._units[p.id]
                self._units[p.id] = replace(
                    unit,
                    position=Point(p.lon, p.lat),
                    status=p.status or unit.status,
                    updated_at=p.at,
                )
            self._arrays = None
        return PositionReport(len(fresh), stale, unknown)

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
        with self._lock:
            if self._arrays is None:
                self._arrays = _UnitArrays(self.units())
            a = self._arrays
        mask = a.located & np.isin(a.status, [s.value for s in statuses])
        if types is not None:
            mask &= np.isin(a.type, list(types))
        idx = np.flatnonzero(mask)
        rough = sphere_distances_m(lon, lat, a.lon[idx], a.lat[idx])
        if max_distance_m is not None:
            keep = rough <= max_distance_m * SPHERE_SLACK
            idx, rough = idx[keep], rough[keep]
        if len(idx) > k:
            # The k-th smallest sphere distance bounds the k-th true distance (see SPHERE_SLACK).
            kth = float(np.partition(rough, k - 1)[k - 1])
            keep = rough <= kth * SPHERE_SLACK + 1e-6
            idx = idx[keep]
        exact = distances_m(lon, lat, a.lon[idx], a.lat[idx])
        hits = [
            UnitHit(a.units[i], float(d))
            for i, d in zip(idx, exact, strict=True)
            if max_distance_m is None or d <= max_distance_m
        ]
        hits.sort(key=lambda h: (h.distance_m, h.unit.id))
        return hits[:k]

    # -- static layers ----------------------------------------------------------------------

    def _indexes(self, layers: Collection[str]) -> list[_LayerIndex]:
        return [self._layers[name] for name in sorted(set(layers)) if name in self._layers]

    def features_within(
        self, lon: float, lat: float, distance_m: float, layers: Collection[str]
    ) -> list[FeatureHit]:
        box = shapely.box(*degree_box(lon, lat, distance_m))
        hits: list[FeatureHit] = []
        for index in self._indexes(layers):
            candidates = index.tree.query(box)
            points = [i for i in candidates if index.features[i].geometry.geom_type == "Point"]
            others = [i for i in candidates if index.features[i].geometry.geom_type != "Point"]
            geoms = index.geometries[points]
            dist = distances_m(lon, lat, shapely.get_x(geoms), shapely.get_y(geoms))
            pairs = list(zip(points, dist, strict=True)) + [
                (i, distance_to_geometry_m(lon, lat, index.features[i].geometry)) for i in others
            ]
            hits.extend(
                FeatureHit(index.features[i], float(d)) for i, d in pairs if d <= distance_m
            )
        hits.sort(key=lambda h: (h.distance_m, h.feature.layer, h.feature.fid))
        return hits

    def features_in(self, area: BaseGeometry, layers: Collection[str]) -> list[Feature]:
        found: list[Feature] = []
        for index in self._indexes(layers):
            found.extend(index.features[i] for i in sorted(index.tree.query(area, "intersects")))
        return found

    def zones_containing(self, lon: float, lat: float, layers: Collection[str]) -> list[Feature]:
        found: list[Feature] = []
        point = Point(lon, lat)
        for index in self._indexes(layers):
            candidates = sorted(index.tree.query(point))
            found.extend(
                index.features[i]
                for i in candidates
                if shapely.intersects_xy(index.geometries[i], lon, lat)
            )
        return found
