"""Jurisdiction lookups per second: naive per-point shapely vs batched STRtree vs the grid index.

    .venv/bin/python bench/bench_jurisdiction.py [--points 100000] [--seed 1]

Points are uniform in the bounding box of the bundled Hebei divisions (179 divisions; the 167
counties are the leaves answered). Every method must give the same answer as the naive loop
on every point (the lowest-adcode county whose closed polygon covers the point, or none); the
run fails otherwise. Each fast method is timed as the best of several repetitions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point

from gis.divisions import Hierarchy, parse_divisions, read_geojson
from gis.grid import OUTSIDE, ExactLocator, GridIndex, content_key
from gis.loaders import BUNDLED_DIVISIONS, BUNDLED_DIVISIONS_CRS

Ranks = npt.NDArray[np.intp]


def naive_loop(
    tree: shapely.STRtree, xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]
) -> Ranks:
    """One point at a time, as a first implementation would: a Point object, a tree query with
    the covering predicate, the lowest rank of the hits."""
    out = np.full(len(xs), OUTSIDE, dtype=np.intp)
    for i in range(len(xs)):
        hits = tree.query(Point(xs[i], ys[i]), predicate="intersects")
        if len(hits):
            out[i] = int(hits.min())
    return out


def batched_strtree(tree: shapely.STRtree, count: int) -> Callable[..., Ranks]:
    """All points in one STRtree query (prepared polygons, GEOS predicate per candidate)."""

    def run(xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]) -> Ranks:
        point_idx, geom_idx = tree.query(shapely.points(xs, ys), predicate="intersects")
        out = np.full(len(xs), count, dtype=np.intp)
        np.minimum.at(out, point_idx, geom_idx)
        out[out == count] = OUTSIDE
        return out

    return run


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    divisions, _ = parse_divisions(
        read_geojson(BUNDLED_DIVISIONS), source="bundled", crs=BUNDLED_DIVISIONS_CRS
    )
    hierarchy = Hierarchy(divisions)
    leaves = [leaf.geometry for leaf in hierarchy.leaves]
    province = next(d for d in divisions if d.level == "province")
    xmin, ymin, xmax, ymax = province.geometry.bounds
    rng = np.random.default_rng(args.seed)
    xs = rng.uniform(xmin, xmax, args.points)
    ys = rng.uniform(ymin, ymax, args.points)
    print(
        f"{len(divisions)} divisions, {len(leaves)} leaf counties; {args.points} random points "
        f"in Hebei's box ({xmin:.3f}..{xmax:.3f}E, {ymin:.3f}..{ymax:.3f}N)"
    )

    start = time.perf_counter()
    grid = GridIndex.build(leaves)
    build_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "grid.npz"
        key = content_key([leaf.adcode for leaf in hierarchy.leaves], leaves)
        grid.save(cache, key)
        load_s = best_of(lambda: GridIndex.load(cache, key, leaves), 3)
        size_mb = cache.stat().st_size / 1e6
    border = float((grid.grid == -2).mean())
    print(
        f"grid {grid.nx}x{grid.ny} cells of {grid.cell:.4f}°: built in {build_s:.2f} s, "
        f"loaded from its {size_mb:.1f} MB cache in {load_s * 1000:.0f} ms; "
        f"{100 * border:.1f}% of cells straddle a border"
    )

    tree = shapely.STRtree(np.array(leaves, dtype=object))
    shapely.prepare(np.array(leaves, dtype=object))
    start = time.perf_counter()
    reference = naive_loop(tree, xs, ys)
    naive_s = time.perf_counter() - start

    answers = np.empty(len(hierarchy.leaves) + 1, dtype=object)
    answers[:] = [hierarchy.jurisdiction(leaf) for leaf in hierarchy.leaves] + [None]
    locator = ExactLocator(leaves)
    batched = batched_strtree(tree, len(leaves))
    methods: list[tuple[str, Callable[[], Ranks]]] = [
        ("batched STRtree query, prepared", lambda: batched(xs, ys)),
        ("batched intersects_xy by county", lambda: locator.locate(xs, ys)),
        ("grid index (ranks)", lambda: grid.ranks(xs, ys)),
    ]
    rows = [("naive per-point shapely loop", naive_s)]
    for name, fn in methods:
        if not np.array_equal(fn(), reference):
            print(f"FAIL: {name} differs from the naive loop", file=sys.stderr)
            return 1
        rows.append((name, best_of(fn, args.repeat)))
    # End to end as the stream enrichment calls it: Jurisdiction objects out.
    full = grid.ranks(xs, ys)
    rows.append(
        (
            "grid + Jurisdiction objects",
            best_of(lambda: answers[grid.ranks(xs, ys)].tolist(), args.repeat),
        )
    )
    assert np.array_equal(full, reference)

    inside = int((reference >= 0).sum())
    print(
        f"all methods agree with the naive loop on all {args.points} points "
        f"({inside} inside a county, {args.points - inside} outside)\n"
    )
    print("| method | seconds | points/s | speed-up vs naive |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(
            f"| {name} | {seconds:.4f} | {args.points / seconds:,.0f} | {naive_s / seconds:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
