"""Generates the bundled SAMPLE layers for Hebei (``python -m gis.samples`` rewrites them).

Everything here is sample data for the demo and the tests, labelled ``"sample": true`` in every
feature, except what ``gis/data/README.md`` names as real (station and reservoir names, the
蓄滞洪区 names and the sizes quoted from the notes, 白洋淀十方院's 7.5 m warning level, the
Natural Earth towns). Facilities and units stand at the real towns of the Natural Earth places
file that lie inside the loaded divisions; their names come from our own division names, because
the Natural Earth names have misspellings ("Shijianzhuang", "Xiangtai") and some places carry
the wrong province ("Linqing", a Shandong city, is listed under Hebei): a place is placed by its
coordinates only, never by its name or its stated province.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from gis.divisions import Division, Hierarchy
from gis.geodesy import GEOD, geodesic_circle
from gis.grid import ExactLocator

DATA = Path(__file__).parent / "data"
SAMPLES = DATA / "samples"
PLACES_FILE = DATA / "china_populated_places_ne10m.geojson"
SAMPLE = "示例数据 sample data: invented values at real places, not for operational use"

# Real names (notes §2); sizes in km² where the notes give them, else a sample size. Each zone
# is drawn as a circle of that area centred in the named county: an approximation, labelled so.
FLOOD_ZONES: tuple[tuple[str, str, float, bool], ...] = (
    ("永定河泛区", "永清县", 400.0, False),
    ("小清河分洪区", "涿州市", 150.0, False),
    ("白洋淀", "安新县", 366.0, False),
    ("东淀", "文安县", 379.0, True),
    ("文安洼", "大城县", 400.0, False),
    ("贾口洼", "青县", 300.0, False),
    ("献县泛区", "献县", 331.5, True),
    ("宁晋泊", "宁晋县", 1000.0, False),
    ("大陆泽", "隆尧县", 1041.0, False),
    ("兰沟洼", "高碑店市", 228.0, True),
    ("永年洼", "永年区", 100.0, False),
    ("大名泛区", "大名县", 300.0, False),
)
# (name, river, county, warning m, guaranteed m, real warning level?)
GAUGES: tuple[tuple[str, str, str, float, float, bool], ...] = (
    ("白洋淀十方院", "白洋淀（大清河）", "安新县", 7.5, 8.8, True),
    ("永定河固安", "永定河", "固安县", 25.0, 27.0, False),
    ("大清河新盖房", "大清河", "雄县", 10.5, 12.5, False),
    ("子牙河献县", "子牙河", "献县", 13.5, 16.0, False),
    ("北拒马河涿州", "北拒马河", "涿州市", 34.0, 36.5, False),
)
# (name, river, county, flood-limit level m, normal level m)
RESERVOIRS: tuple[tuple[str, str, str, float, float], ...] = (
    ("岗南水库", "滹沱河", "平山县", 190.0, 200.0),
    ("黄壁庄水库", "滹沱河", "鹿泉区", 114.0, 120.0),
    ("朱庄水库", "沙河", "沙河市", 243.0, 251.0),
    ("王快水库", "沙河（大清河）", "曲阳县", 193.0, 200.0),
    ("西大洋水库", "唐河", "唐县", 134.0, 140.0),
    ("潘家口水库", "滦河", "迁西县", 216.0, 222.0),
    ("岳城水库", "漳河", "磁县", 134.0, 148.5),
    ("官厅水库", "永定河", "怀来县", 476.0, 479.0),
)
# Critical quantity Q (t) from GB 18218-2018 (notes §5), β correction, alarm levels 1/2.
SUBSTANCES: tuple[tuple[str, float, float, str], ...] = (
    ("氨", 10.0, 2.0, "NH3 20/40 mg/m³"),
    ("氯", 5.0, 4.0, "Cl2 1/2 mg/m³"),
    ("硫化氢", 5.0, 5.0, "H2S 10/20 mg/m³"),
    ("液化石油气", 50.0, 1.5, "25%/50% LEL"),
    ("苯", 50.0, 1.0, "C6H6 6/12 mg/m³"),
    ("甲醇", 500.0, 1.0, "25%/50% LEL"),
)
BUFFER_BY_GRADE = {1: 1000.0, 2: 800.0, 3: 500.0, 4: 300.0}


def _offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    azimuth = math.degrees(math.atan2(east_m, north_m))
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, math.hypot(east_m, north_m))
    return round(float(lon2), 6), round(float(lat2), 6)


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _feature(fid: str, name: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"name": name, **props},
        "geometry": geometry,
    }


def _collection(name: str, features: list[dict[str, Any]], note: str = SAMPLE) -> dict[str, Any]:
    return {"type": "FeatureCollection", "name": name, "note": note, "features": features}


def places_in(divisions: list[Division]) -> list[dict[str, Any]]:
    """Natural Earth places inside the divisions, deduplicated, with the county they fall in."""
    hierarchy = Hierarchy(divisions)
    locator = ExactLocator([leaf.geometry for leaf in hierarchy.leaves])
    raw = json.loads(PLACES_FILE.read_text(encoding="utf-8"))["features"]
    seen: set[tuple[float, float]] = set()
    found: list[dict[str, Any]] = []
    for feature in raw:
        lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
        props = feature["properties"]
        population = props.get("pop_max") or 0
        if (round(lon, 4), round(lat, 4)) in seen or population <= 0:
            continue
        seen.add((round(lon, 4), round(lat, 4)))
        rank = int(locator.locate(np.array([lon]), np.array([lat]))[0])
        if rank < 0:
            continue
        leaf = hierarchy.leaves[rank]
        where = hierarchy.jurisdiction(leaf)
        city = hierarchy.name(where.city) if where.city else None
        found.append(
            {
                "lon": lon,
                "lat": lat,
                "ne_name": props["name"],
                "population": int(population),
                "county": leaf.name,
                "city": city or leaf.name,
                "slug": leaf.adcode,
            }
        )
    found.sort(key=lambda p: -int(p["population"]))
    # Ids come from the county adcode (Natural Earth names are misspelt); a second town in one
    # county gets a suffix.
    counts: dict[str, int] = {}
    for place in found:
        counts[place["slug"]] = counts.get(place["slug"], 0) + 1
        if counts[place["slug"]] > 1:
            place["slug"] = f"{place['slug']}-{counts[place['slug']]}"
    return found


def _county_points(divisions: list[Division]) -> dict[str, tuple[float, float]]:
    points: dict[str, tuple[float, float]] = {}
    for d in divisions:
        if d.level == "county":
            p = shapely.point_on_surface(d.geometry)
            points.setdefault(d.name, (round(p.x, 6), round(p.y, 6)))
    return points


def build(divisions: list[Division]) -> dict[str, dict[str, Any]]:
    """All sample layers as FeatureCollections, from the (WGS-84) divisions."""
    towns = places_in(divisions)
    counties = _county_points(divisions)
    hospitals, shelters, units, hazards = [], [], [], []
    for n, town in enumerate(towns):
        lon, lat, slug, city = town["lon"], town["lat"], town["slug"], town["city"]
        beds = 300 + town["population"] // 2500
        for i, (label, east, north, size) in enumerate(
            (("人民医院", 1200, 600, 1.0), ("中心医院", -900, -1100, 0.6))
        ):
            hospitals.append(
                _feature(
                    f"h-{slug}-{i}",
                    f"{city}{label}（示例）",
                    _point(*_offset(lon, lat, east, north)),
                    beds=int(beds * size),
                    icu_beds=int(beds * size) // 20,
                    town=town["ne_name"],
                    county=town["county"],
                    sample=True,
                )
            )
        for i in range(2):
            shelters.append(
                _feature(
                    f"s-{slug}-{i}",
                    f"{city}应急避难场所{i + 1}（示例）",
                    _point(*_offset(lon, lat, -1500 + 3000 * i, 1500)),
                    capacity=2000 + town["population"] // 400 // (i + 1),
                    town=town["ne_name"],
                    county=town["county"],
                    sample=True,
                )
            )
        fire_station, ems_station = f"{city}消防救援站（示例）", f"{city}急救中心（示例）"
        for i in range(3):
            units.append(
                _unit(
                    f"fire-{slug}-engine-{i + 1}",
                    "fire",
                    "fire_engine",
                    f"{city}消防车{i + 1}号",
                    fire_station,
                    _offset(lon, lat, 400, 300),
                )
            )
            units.append(
                _unit(
                    f"health-{slug}-ambulance-{i + 1}",
                    "health",
                    "ambulance",
                    f"{city}救护车{i + 1}号",
                    ems_station,
                    _offset(lon, lat, 1200, 600),
                )
            )
        units.append(
            _unit(
                f"fire-{slug}-rescue-1",
                "fire",
                "rescue_team",
                f"{city}抢险救援队",
                fire_station,
                _offset(lon, lat, 400, 300),
            )
        )
        for i in range(2):
            units.append(
                _unit(
                    f"water-{slug}-boat-{i + 1}",
                    "water",
                    "boat",
                    f"{city}冲锋舟{i + 1}号",
                    f"{city}防汛物资仓库（示例）",
                    _offset(lon, lat, -700, 800),
                )
            )
            units.append(
                _unit(
                    f"water-{slug}-pump-{i + 1}",
                    "water",
                    "pump",
                    f"{city}排涝泵车{i + 1}号",
                    f"{city}防汛物资仓库（示例）",
                    _offset(lon, lat, -700, 800),
                )
            )
        if town["population"] >= 500_000:
            substance, critical, beta, alarm = SUBSTANCES[n % len(SUBSTANCES)]
            quantity = critical * (3 + n % 5) * 4
            r_value = 2.0 * beta * quantity / critical  # GB 18218: R = α·Σβ·q/Q, α = 2.0
            grade = 1 if r_value >= 100 else 2 if r_value >= 50 else 3 if r_value >= 10 else 4
            hazards.append(
                _feature(
                    f"hz-{slug}",
                    f"{city}化工企业{substance}储罐区（示例）",
                    _point(*_offset(lon, lat, 6000, -4000)),
                    enterprise=f"{city}示例化工有限公司",
                    substance=substance,
                    quantity_t=quantity,
                    critical_quantity_t=critical,
                    grade=grade,
                    r_value=round(r_value, 1),
                    alarm_thresholds=alarm,
                    buffer_m=BUFFER_BY_GRADE[grade],
                    sample=True,
                )
            )
    gauges = [
        _feature(
            f"g-{i}",
            name,
            _point(*counties[county]),
            river=river,
            warning_level_m=warning,
            guaranteed_level_m=guaranteed,
            datum="85高程",
            position="approximate (county)",
            warning_level_real=real,
            sample=not real,
        )
        for i, (name, river, county, warning, guaranteed, real) in enumerate(GAUGES)
        if county in counties
    ]
    reservoirs = [
        _feature(
            f"r-{i}",
            name,
            _point(*counties[county]),
            river=river,
            flood_limit_level_m=limit,
            normal_level_m=normal,
            position="approximate (county)",
            sample=True,
        )
        for i, (name, river, county, limit, normal) in enumerate(RESERVOIRS)
        if county in counties
    ]
    zones = [
        _feature(
            f"fz-{i}",
            name,
            shapely.geometry.mapping(_circle_of_area(*counties[county], km2)),
            kind="蓄滞洪区",
            area_km2=km2,
            area_from_notes=known,
            county=county,
            shape="approximate circle of the stated area",
            sample=True,
        )
        for i, (name, county, km2, known) in enumerate(FLOOD_ZONES)
        if county in counties
    ]
    return {
        "hospitals": _collection("hospitals", hospitals),
        "shelters": _collection("shelters", shelters),
        "units": _collection("units", units),
        "hazard_sources": _collection("hazard_sources", hazards),
        "gauges": _collection("gauges", gauges),
        "reservoirs": _collection("reservoirs", reservoirs),
        "flood_zones": _collection("flood_zones", zones),
    }


def _circle_of_area(lon: float, lat: float, km2: float) -> shapely.Polygon:
    circle = geodesic_circle(lon, lat, math.sqrt(km2 * 1e6 / math.pi), vertices=48)
    return shapely.set_precision(circle, 1e-6)


def _unit(
    uid: str, agency: str, kind: str, name: str, station: str, at: tuple[float, float]
) -> dict[str, Any]:
    return _feature(
        uid,
        name,
        _point(*at),
        agency=agency,
        type=kind,
        home_station=station,
        status="available",
        sample=True,
    )


def main() -> None:
    from gis.divisions import parse_divisions, read_geojson
    from gis.loaders import BUNDLED_DIVISIONS, BUNDLED_DIVISIONS_CRS

    divisions, _ = parse_divisions(
        read_geojson(BUNDLED_DIVISIONS), source="bundled", crs=BUNDLED_DIVISIONS_CRS
    )
    SAMPLES.mkdir(parents=True, exist_ok=True)
    for name, collection in build(divisions).items():
        text = json.dumps(collection, ensure_ascii=False, indent=None, separators=(",", ":"))
        (SAMPLES / f"hebei_{name}.geojson").write_text(text + "\n", encoding="utf-8")
        print(f"{name}: {len(collection['features'])} features")


if __name__ == "__main__":
    main()
