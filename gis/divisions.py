"""Administrative divisions: reading and validating division GeoJSON, and the hierarchy.

Any province's file loads, not only the bundled Hebei one: a FeatureCollection whose features
carry ``adcode``, ``name``, ``level`` (``province`` | ``city`` | ``county``) and ``parent_adcode``
and a Polygon or MultiPolygon. Invalid rings are repaired with ``make_valid`` (keeping only the
polygonal part); anything that is not polygonal is refused with a message naming the feature.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import shapely
from shapely.geometry import MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

from gis.crs import resolve_crs, to_wgs84
from infra.errors import InvalidInput, ValidationFailed
from streams.domain import Jurisdiction

Level = Literal["province", "city", "county"]
LEVELS: tuple[Level, ...] = ("province", "city", "county")
_LEVEL_ALIASES: dict[str, Level] = {
    "province": "province",
    "city": "city",
    "prefecture": "city",
    "county": "county",
    "district": "county",
}


@dataclass(frozen=True, slots=True)
class Division:
    adcode: str
    name: str
    level: Level
    parent_adcode: str | None
    geometry: MultiPolygon


@dataclass(slots=True)
class DivisionsReport:
    """What a load read, repaired and converted: printed by ``linkage geo load``."""

    source: str
    crs: str
    counts: Counter[str] = field(default_factory=Counter)
    repaired: list[str] = field(default_factory=list)

    def summary(self) -> str:
        plural = {"province": "provinces", "city": "cities", "county": "counties"}
        levels = ", ".join(
            f"{self.counts[level]} {plural[level] if self.counts[level] > 1 else level}"
            for level in LEVELS
            if self.counts[level]
        )
        text = f"{sum(self.counts.values())} divisions ({levels}) from {self.source}"
        if self.crs != "EPSG:4326":
            text += f", converted {self.crs} → WGS-84"
        if self.repaired:
            text += f"; repaired invalid geometry of {', '.join(self.repaired)}"
        return text


def read_geojson(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path}: not GeoJSON ({exc})") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ValidationFailed(f"{path}: expected a GeoJSON FeatureCollection")
    return document


def declared_crs(document: Mapping[str, Any], default: str = "EPSG:4326") -> str:
    """The legacy GeoJSON ``crs`` member when present (RFC 7946 says WGS-84 otherwise)."""
    crs = document.get("crs")
    if isinstance(crs, dict):
        name = (crs.get("properties") or {}).get("name")
        if isinstance(name, str):
            return resolve_crs(name).name
    return default


def polygonal(geometry: BaseGeometry, label: str) -> tuple[MultiPolygon, bool]:
    """The geometry as a valid MultiPolygon, and whether it had to be repaired."""
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationFailed(
            f"{label}: a division must be a Polygon or MultiPolygon, not {geometry.geom_type}"
        )
    repaired = False
    if not geometry.is_valid:
        repaired = True
        fixed = shapely.make_valid(geometry)
        # make_valid may return lines or points next to the polygons (collapsed spikes): drop them.
        parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
        geometry = shapely.union_all(parts) if parts else shapely.Polygon()
    if geometry.is_empty or geometry.area == 0:
        raise ValidationFailed(f"{label}: empty geometry")
    if geometry.geom_type == "Polygon":
        geometry = MultiPolygon([geometry])
    assert isinstance(geometry, MultiPolygon)
    return geometry, repaired


def parse_divisions(
    document: Mapping[str, Any], *, source: str, crs: str | None = None
) -> tuple[list[Division], DivisionsReport]:
    """Validate a division FeatureCollection and convert it to WGS-84.

    ``crs`` overrides what the document declares (Amap-derived files declare nothing but are
    GCJ-02: see ``gis/data/README.md``).
    """
    crs_name = resolve_crs(crs).name if crs else declared_crs(document)
    report = DivisionsReport(source=source, crs=crs_name)
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ValidationFailed(f"{source}: no features")
    divisions: dict[str, Division] = {}
    for index, feature in enumerate(features):
        props = (feature or {}).get("properties") or {}
        adcode = str(props.get("adcode") or "").strip()
        label = f"{source} feature {index}" + (f" (adcode {adcode})" if adcode else "")
        name = str(props.get("name") or "").strip()
        level = _LEVEL_ALIASES.get(str(props.get("level") or "").strip().lower())
        if not adcode or not name or level is None:
            raise ValidationFailed(
                f"{label}: needs properties adcode, name and level (one of {', '.join(LEVELS)})"
            )
        if adcode in divisions:
            raise ValidationFailed(f"{label}: adcode {adcode} appears twice")
        if not feature.get("geometry"):
            raise ValidationFailed(f"{label}: no geometry")
        try:
            raw = shape(feature["geometry"])
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ValidationFailed(f"{label}: unreadable geometry ({exc})") from None
        geometry, repaired = polygonal(to_wgs84(raw, crs_name), label)
        if repaired:
            report.repaired.append(adcode)
        parent = props.get("parent_adcode")
        divisions[adcode] = Division(
            adcode=adcode,
            name=name,
            level=level,
            parent_adcode=None if parent in (None, "") else str(parent),
            geometry=geometry,
        )
        report.counts[level] += 1
    return list(divisions.values()), report


class Hierarchy:
    """Names and parents of the loaded divisions, and the jurisdiction each leaf stands for.

    A leaf is a division no other division names as parent (normally a county; a city without
    counties, as some provinces have, is a leaf too). Its province and city are read up the
    parent chain, so a county hanging directly under its province gets city None.
    """

    def __init__(self, divisions: Iterable[Division]) -> None:
        self.by_code: dict[str, Division] = {d.adcode: d for d in divisions}
        parents = {d.parent_adcode for d in self.by_code.values() if d.parent_adcode}
        # Sorted by adcode: the rank of a leaf is its position here, and ties on shared
        # borders go to the lowest rank (lowest adcode), the documented rule.
        self.leaves: list[Division] = sorted(
            (d for d in self.by_code.values() if d.adcode not in parents),
            key=lambda d: d.adcode,
        )

    def name(self, adcode: str) -> str | None:
        division = self.by_code.get(adcode)
        return None if division is None else division.name

    def jurisdiction(self, leaf: Division) -> Jurisdiction:
        found: dict[str, str] = {}
        current: Division | None = leaf
        seen: set[str] = set()
        while current is not None and current.adcode not in seen:
            seen.add(current.adcode)
            found.setdefault(current.level, current.adcode)
            parent = current.parent_adcode
            current = self.by_code.get(parent) if parent else None
        return Jurisdiction(found.get("province"), found.get("city"), found.get("county"))
