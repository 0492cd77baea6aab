"""The grid index answers exactly what the exact polygon test answers, on every point."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from gis.divisions import Division, Hierarchy
from gis.grid import OUTSIDE, GridIndex, content_key


@pytest.fixture(scope="module")
def hebei(bundled_divisions: list[Division]) -> tuple[list[MultiPolygon], GridIndex]:
    leaves = [leaf.geometry for leaf in Hierarchy(bundled_divisions).leaves]
    return leaves, GridIndex.build(leaves)


def test_random_points_in_the_box(hebei: tuple[list[MultiPolygon], GridIndex]) -> None:
    leaves, grid = hebei
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.array(leaves))
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(xmin, xmax, 50_000), rng.uniform(ymin, ymax, 50_000)
    ranks = grid.ranks(xs, ys)
    assert np.array_equal(ranks, grid.locator.locate(xs, ys))
    assert (ranks == OUTSIDE).any() and (ranks >= 0).mean() > 0.4


def test_points_on_borders(hebei: tuple[list[MultiPolygon], GridIndex]) -> None:
    leaves, grid = hebei
    vertices = shapely.get_coordinates(np.array(leaves))
    midpoints = (vertices[:-1] + vertices[1:]) / 2
    nudged = vertices + np.array([1e-9, -1e-9])
    for points in (vertices, midpoints, nudged):
        ranks = grid.ranks(points[:, 0], points[:, 1])
        assert np.array_equal(ranks, grid.locator.locate(points[:, 0], points[:, 1]))
    assert (grid.ranks(vertices[:, 0], vertices[:, 1]) >= 0).all()  # borders are inside


def test_shared_border_goes_to_the_lower_rank() -> None:
    left = MultiPolygon([Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])])
    right = MultiPolygon([Polygon([(1, 0), (2, 0), (2, 1), (1, 1)])])
    grid = GridIndex.build([left, right], target_cells=100)
    assert list(grid.ranks([1.0, 1.0, 0.5, 1.5], [0.5, 0.0, 0.5, 0.5])) == [0, 0, 0, 1]


def test_outside_and_nan(hebei: tuple[list[MultiPolygon], GridIndex]) -> None:
    _, grid = hebei
    ranks = grid.ranks([0.0, math.nan, 116.397, 200.0, math.inf], [0.0, 39.0, 39.909, 0.0, 1.0])
    assert list(ranks) == [OUTSIDE] * 5


def test_disk_cache_round_trip(tmp_path: Path) -> None:
    squares = [MultiPolygon([shapely.box(i, 0, i + 1, 1)]) for i in range(3)]
    key = content_key(["a", "b", "c"], squares)
    path = tmp_path / "grid.npz"
    built = GridIndex.cached(path, key, squares)
    assert path.exists()
    loaded = GridIndex.load(path, key, squares)
    assert loaded is not None and np.array_equal(loaded.grid, built.grid)
    assert GridIndex.load(path, "another key", squares) is None
    path.write_bytes(b"not a grid")
    assert GridIndex.load(path, key, squares) is None


@st.composite
def partitions(draw: st.DrawFn) -> list[MultiPolygon]:
    """A fan of wedges around a centre, each a polygon sharing its edges with its neighbours,
    some with a hole: the shapes a division coverage is made of."""
    count = draw(st.integers(2, 7))
    cuts = sorted(
        draw(st.lists(st.floats(0, 2 * math.pi), min_size=count, max_size=count, unique=True))
    )
    radius = draw(st.floats(0.5, 3.0))
    cx, cy = draw(st.floats(-10, 10)), draw(st.floats(-10, 10))
    wedges = []
    for a, b in zip(cuts, [*cuts[1:], cuts[0] + 2 * math.pi], strict=True):
        arc = np.linspace(a, b, 5)
        ring = [(cx, cy), *zip(cx + radius * np.cos(arc), cy + radius * np.sin(arc), strict=True)]
        wedge = shapely.make_valid(Polygon(ring))
        if wedge.geom_type == "Polygon" and wedge.area > 1e-6:
            wedges.append(MultiPolygon([wedge]))
    return wedges or [MultiPolygon([shapely.box(cx, cy, cx + 1, cy + 1)])]


@settings(max_examples=40, deadline=None)
@given(partitions(), st.integers(50, 5000), st.integers(0, 2**32 - 1))
def test_any_partition_any_grid_size(polygons: list[MultiPolygon], cells: int, seed: int) -> None:
    grid = GridIndex.build(polygons, target_cells=cells)
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.array(polygons))
    rng = np.random.default_rng(seed)
    xs = rng.uniform(xmin - 0.1, xmax + 0.1, 2000)
    ys = rng.uniform(ymin - 0.1, ymax + 0.1, 2000)
    vertices = shapely.get_coordinates(np.array(polygons))
    xs = np.concatenate([xs, vertices[:, 0]])
    ys = np.concatenate([ys, vertices[:, 1]])
    assert np.array_equal(grid.ranks(xs, ys), grid.locator.locate(xs, ys))
