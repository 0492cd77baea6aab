"""The spatial questions other stages ask, and the answers' types; one interface, two stores.

:class:`gis.spatial_postgis.PostgisSpatial` answers them in SQL (GeoAlchemy2 constructs, GiST
indexes, KNN ``<->``) and :class:`gis.spatial_memory.MemorySpatial` in process (shapely STRtree,
numpy). Both measure distances on the WGS-84 ellipsoid (PostGIS geography, ``pyproj.Geod``) and
test containment on lon/lat polygons with GEOS, so they give the same answers; the hypothesis
tests in ``tests/gis`` hold them to it.

Ordering is part of the answer: by distance, then by id, so that equal distances (two units at
one station) come out in the same order from both stores.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shapely.geometry.base import BaseGeometry

from gis.layers import Feature
from streams.domain import Unit, UnitStatus

AVAILABLE: tuple[UnitStatus, ...] = (UnitStatus.AVAILABLE,)


@dataclass(frozen=True, slots=True)
class UnitHit:
    unit: Unit
    distance_m: float

    def to_json(self) -> dict[str, Any]:
        return {**self.unit.to_json(), "distance_m": round(self.distance_m, 1)}


@dataclass(frozen=True, slots=True)
class FeatureHit:
    feature: Feature
    distance_m: float


@dataclass(frozen=True, slots=True)
class UnitPosition:
    """One AVL report: where a known unit is, as of ``at`` (older reports never win)."""

    id: str
    lon: float
    lat: float
    at: datetime
    status: UnitStatus | None = None


@dataclass(frozen=True, slots=True)
class PositionReport:
    updated: int
    stale: list[str] = field(default_factory=list)  # an equal or newer position was stored
    unknown: list[str] = field(default_factory=list)  # no such unit: create it with upsert_units


@dataclass(frozen=True, slots=True)
class Exposure:
    """What an incident area holds: people (Natural Earth places) and facilities."""

    population: int
    places: list[str]
    facilities: dict[str, int]
    hospital_beds: int
    icu_beds: int
    shelter_capacity: int
    hazard_sources: list[str]
    zones: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "places": self.places,
            "facilities": self.facilities,
            "hospital_beds": self.hospital_beds,
            "icu_beds": self.icu_beds,
            "shelter_capacity": self.shelter_capacity,
            "hazard_sources": self.hazard_sources,
            "zones": self.zones,
        }


class SpatialStore(Protocol):
    def nearest_units(
        self,
        lon: float,
        lat: float,
        *,
        k: int,
        max_distance_m: float | None,
        types: Collection[str] | None,
        statuses: Collection[UnitStatus],
    ) -> list[UnitHit]: ...

    def write_units(self, units: Sequence[Unit]) -> None: ...

    def update_positions(self, positions: Sequence[UnitPosition]) -> PositionReport: ...

    def units(self) -> list[Unit]: ...

    def features_within(
        self, lon: float, lat: float, distance_m: float, layers: Collection[str]
    ) -> list[FeatureHit]: ...

    def features_in(self, area: BaseGeometry, layers: Collection[str]) -> list[Feature]: ...

    def zones_containing(
        self, lon: float, lat: float, layers: Collection[str]
    ) -> list[Feature]: ...

    def refresh(self) -> None:
        """Re-read what the store caches (after layers were loaded by another path)."""
        ...


def exposure_of(features: Sequence[Feature]) -> Exposure:
    """Sum what lies in an area, from the features the store found there."""
    counts: dict[str, int] = {}
    population = beds = icu = capacity = 0
    places: list[str] = []
    hazards: list[str] = []
    zones: list[str] = []
    for feature in features:
        props = feature.properties
        if feature.layer == "places":
            population += int(props.get("population", 0))
            places.append(feature.name)
            continue
        if feature.layer in ("flood_zones", "warning_areas", "hazard_buffers"):
            zones.append(f"{feature.layer}:{feature.name}")
            continue
        counts[feature.layer] = counts.get(feature.layer, 0) + 1
        if feature.layer == "hospitals":
            beds += int(props.get("beds", 0))
            icu += int(props.get("icu_beds", 0))
        elif feature.layer == "shelters":
            capacity += int(props.get("capacity", 0))
        elif feature.layer == "hazard_sources":
            hazards.append(feature.name)
    return Exposure(population, places, counts, beds, icu, capacity, hazards, zones)
