"""Division files: the bundled hierarchy, validation and repair, other provinces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box

from gis import loaders, store
from gis.divisions import Division, Hierarchy, parse_divisions
from gis.service import GeoService
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.errors import ValidationFailed
from infra.settings import Settings


def _feature(adcode: str, level: str, parent: str | None, geometry: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {
            "adcode": adcode,
            "name": f"区{adcode}",
            "level": level,
            "parent_adcode": parent,
        },
        "geometry": geometry,
    }


def _square(x: float, y: float, size: float = 1.0) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [list(box(x, y, x + size, y + size).exterior.coords)]}


def _collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def test_bundled_hierarchy(bundled_divisions: list[Division]) -> None:
    hierarchy = Hierarchy(bundled_divisions)
    levels = [d.level for d in bundled_divisions]
    assert (levels.count("province"), levels.count("city"), levels.count("county")) == (1, 11, 167)
    assert len(hierarchy.leaves) == 167 and {d.level for d in hierarchy.leaves} == {"county"}
    for leaf in hierarchy.leaves:
        where = hierarchy.jurisdiction(leaf)
        assert where.province == "130000"
        assert where.city == leaf.parent_adcode and where.county == leaf.adcode
    assert hierarchy.name("130681") == "涿州市"
    assert all(d.geometry.is_valid for d in bundled_divisions)


def test_county_directly_under_its_province_has_no_city() -> None:
    divisions, _ = parse_divisions(
        _collection(
            _feature("900000", "province", None, _square(0, 0, 2)),
            _feature("900100", "city", "900000", _square(0, 0)),
            _feature("900101", "county", "900100", _square(0, 0)),
            _feature("900190", "county", "900000", _square(1, 1)),
        ),
        source="test",
    )
    hierarchy = Hierarchy(divisions)
    assert [d.adcode for d in hierarchy.leaves] == ["900101", "900190"]
    assert hierarchy.jurisdiction(hierarchy.by_code["900190"]).to_json() == {
        "province": "900000",
        "city": None,
        "county": "900190",
    }


def test_invalid_rings_are_repaired_and_reported() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    divisions, report = parse_divisions(
        _collection(_feature("900101", "county", None, bowtie)), source="test"
    )
    assert divisions[0].geometry.is_valid and divisions[0].geometry.area == pytest.approx(0.5)
    assert report.repaired == ["900101"] and "repaired" in report.summary()


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        (_feature("1", "county", None, {"type": "Point", "coordinates": [1, 2]}), "not Point"),
        (
            _feature("1", "county", None, {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}),
            "Polygon or MultiPolygon",
        ),
        (_feature("", "county", None, _square(0, 0)), "needs properties adcode"),
        (_feature("1", "village", None, _square(0, 0)), "level"),
        (_feature("1", "county", None, None), "no geometry"),
    ],
)
def test_bad_features_are_refused_with_a_clear_message(
    feature: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        parse_divisions(_collection(feature), source="test")


def test_duplicate_adcodes_are_refused() -> None:
    twice = _collection(
        _feature("1", "county", None, _square(0, 0)), _feature("1", "county", None, _square(1, 0))
    )
    with pytest.raises(ValidationFailed, match="twice"):
        parse_divisions(twice, source="test")


def test_a_declared_crs_is_honoured() -> None:
    document = _collection(_feature("1", "county", None, _square(116, 39, 0.1)))
    document["crs"] = {"type": "name", "properties": {"name": "GCJ-02"}}
    divisions, report = parse_divisions(document, source="test")
    assert report.crs == "GCJ-02"
    assert divisions[0].geometry.bounds[0] < 116 - 0.004  # moved west by GCJ-02's offset


def test_another_province_loads_and_answers(tmp_path: Path) -> None:
    # Any province's file, not just Hebei: two counties of a made-up province far from Hebei.
    path = tmp_path / "other.geojson"
    path.write_text(
        json.dumps(
            _collection(
                _feature("650000", "province", None, _square(80, 40, 2)),
                _feature("650100", "city", "650000", _square(80, 40, 2)),
                _feature("650102", "county", "650100", _square(80, 40)),
                _feature(
                    "650103",
                    "county",
                    "650100",
                    {
                        "type": "MultiPolygon",
                        "coordinates": [
                            _square(81, 40)["coordinates"],
                            _square(80, 41, 2)["coordinates"],
                        ],
                    },
                ),
            )
        ),
        encoding="utf-8",
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path)
    engine = make_engine(settings)
    upgrade(engine)
    report = loaders.load_divisions(engine, path)
    assert report.summary().startswith("4 divisions (1 province, 1 city, 2 counties)")
    geo = GeoService.open(settings, engine)
    assert len(store.read_divisions(engine)) == 4  # not seeded with Hebei: it was not empty
    assert geo.lookup(80.5, 40.5).county == "650102"
    assert geo.lookup(81.5, 41.5).county == "650103"
    assert geo.lookup(81.0, 40.5).county == "650102"  # on the shared border: the lower adcode
    assert geo.lookup(115.974, 39.486).county is None
    engine.dispose()
