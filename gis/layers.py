"""Static layers beyond the divisions: what each holds, and reading them from GeoJSON.

Each layer has a schema: the geometry it takes and the typed properties it needs, checked on
load so that a question like "ICU beds near the incident" never meets a string. Extra properties
are kept as they are. Every layer is loadable from any GeoJSON FeatureCollection with
``linkage geo load FILE --layer NAME``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.crs import resolve_crs, to_wgs84
from gis.divisions import declared_crs
from infra.errors import NotFound, ValidationFailed

POINT = ("Point",)
LINE = ("LineString", "MultiLineString")
AREA = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, slots=True)
class LayerSpec:
    name: str
    title: str
    geometry_types: tuple[str, ...]
    numbers: tuple[str, ...] = ()  # required non-negative numbers
    optional_numbers: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()  # required non-empty strings besides ``name``
    kinds: tuple[str, ...] = ()  # allowed values of ``kind`` when given
    # Layers whose areas answer "which zones contain this point".
    zone: bool = False


LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec("rivers", "Rivers 河流", LINE),
        LayerSpec(
            "gauges",
            "River gauges 水文站",
            POINT,
            numbers=("warning_level_m", "guaranteed_level_m"),
            texts=("river",),
        ),
        LayerSpec(
            "reservoirs",
            "Reservoirs 水库",
            POINT,
            numbers=("flood_limit_level_m",),
            optional_numbers=("normal_level_m", "design_flood_level_m", "capacity_1e8_m3"),
            texts=("river",),
        ),
        LayerSpec(
            "hazard_sources",
            "Major hazard sources 重大危险源",
            POINT,
            numbers=("quantity_t", "critical_quantity_t", "grade", "buffer_m"),
            texts=("enterprise", "substance"),
        ),
        LayerSpec("hazard_buffers", "Hazard source buffer zones 危险源缓冲区", AREA, zone=True),
        LayerSpec(
            "flood_zones",
            "Flood-risk zones 蓄滞洪区",
            AREA,
            optional_numbers=("area_km2", "capacity_1e8_m3"),
            zone=True,
        ),
        LayerSpec("warning_areas", "Warning areas 预警区域", AREA, zone=True),
        LayerSpec("hospitals", "Hospitals 医院", POINT, numbers=("beds", "icu_beds")),
        LayerSpec("shelters", "Shelters 避难场所", POINT, numbers=("capacity",)),
        LayerSpec("places", "Populated places 居民点", POINT, numbers=("population",)),
    )
}
ZONE_LAYERS = tuple(name for name, spec in LAYERS.items() if spec.zone)
FACILITY_LAYERS = ("hospitals", "shelters", "hazard_sources", "gauges", "reservoirs")


@dataclass(frozen=True, slots=True)
class Feature:
    layer: str
    fid: str
    name: str
    geometry: BaseGeometry
    kind: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def to_geojson(self) -> dict[str, Any]:
        props = {"fid": self.fid, "name": self.name, "kind": self.kind, **self.properties}
        return {
            "type": "Feature",
            "id": f"{self.layer}:{self.fid}",
            "properties": props,
            "geometry": shapely.geometry.mapping(self.geometry),
        }


def spec_of(layer: str) -> LayerSpec:
    spec = LAYERS.get(layer)
    if spec is None:
        raise NotFound(f"no layer {layer!r}; layers: {', '.join(sorted(LAYERS))}")
    return spec


def _number(value: Any, label: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed(f"{label}: property {key} must be a number, not {value!r}")
    if value < 0:
        raise ValidationFailed(f"{label}: property {key} must not be negative ({value})")
    return float(value)


def validate_feature(spec: LayerSpec, feature: Feature) -> Feature:
    label = f"{spec.name} feature {feature.fid!r}"
    if feature.geometry.geom_type not in spec.geometry_types:
        raise ValidationFailed(
            f"{label}: layer {spec.name} takes {' or '.join(spec.geometry_types)}, "
            f"not {feature.geometry.geom_type}"
        )
    if feature.geometry.is_empty:
        raise ValidationFailed(f"{label}: empty geometry")
    geometry = feature.geometry
    if not geometry.is_valid:
        repaired = shapely.make_valid(geometry)
        kept = [p for p in shapely.get_parts(repaired) if p.geom_type in spec.geometry_types]
        geometry = shapely.union_all(kept) if kept else geometry
        if geometry.is_empty or not geometry.is_valid:
            raise ValidationFailed(f"{label}: invalid geometry that make_valid cannot repair")
    props = dict(feature.properties)
    for key in spec.numbers:
        if key not in props:
            raise ValidationFailed(f"{label}: missing property {key}")
        props[key] = _number(props[key], label, key)
    for key in spec.optional_numbers:
        if props.get(key) is not None:
            props[key] = _number(props[key], label, key)
    for key in spec.texts:
        if not isinstance(props.get(key), str) or not props[key].strip():
            raise ValidationFailed(f"{label}: missing text property {key}")
    if not feature.name.strip():
        raise ValidationFailed(f"{label}: missing name")
    if spec.kinds and feature.kind not in (None, *spec.kinds):
        raise ValidationFailed(f"{label}: kind must be one of {', '.join(spec.kinds)}")
    return Feature(spec.name, feature.fid, feature.name, geometry, feature.kind, props)


def parse_layer(
    layer: str, document: Mapping[str, Any], *, source: str, crs: str | None = None
) -> list[Feature]:
    """Read a FeatureCollection as the validated features of ``layer`` (in WGS-84)."""
    spec = spec_of(layer)
    return [validate_feature(spec, f) for f in read_features(layer, document, source, crs)]


def read_features(
    layer: str, document: Mapping[str, Any], source: str, crs: str | None
) -> list[Feature]:
    """Features of a FeatureCollection, converted to WGS-84, not yet checked against a schema.
    The id is the feature's ``id`` (or property ``fid``/``id``), else its position."""
    crs_name = resolve_crs(crs).name if crs else declared_crs(document)
    raw_features = document.get("features")
    if not isinstance(raw_features, list):
        raise ValidationFailed(f"{source}: not a FeatureCollection")
    features: dict[str, Feature] = {}
    for index, raw in enumerate(raw_features):
        props = dict((raw or {}).get("properties") or {})
        fid = str(raw.get("id") or props.pop("fid", None) or props.pop("id", None) or index)
        if fid in features:
            raise ValidationFailed(f"{source} feature {index}: id {fid!r} appears twice")
        if not raw.get("geometry"):
            raise ValidationFailed(f"{source} feature {index}: no geometry")
        try:
            geometry = shape(raw["geometry"])
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ValidationFailed(
                f"{source} feature {index}: unreadable geometry ({exc})"
            ) from None
        name = str(props.pop("name", "") or props.get("name_en") or "")
        kind = props.pop("kind", None)
        feature = Feature(
            layer,
            fid,
            name,
            to_wgs84(geometry, crs_name),
            None if kind is None else str(kind),
            props,
        )
        features[fid] = feature
    return list(features.values())
