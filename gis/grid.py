"""Point-in-division lookup on the hot path: a precomputed grid, exact on every point.

Every event of every batch asks which county holds it, so the lookup must cost a few array
operations per point, not a polygon test. The bounding box of the leaf divisions is cut into
cells. A cell that no boundary segment touches lies wholly inside one division (or wholly
outside all of them), so its answer is stored in the cell; a cell that a boundary touches is
marked BORDER and its points get the exact test (``shapely.intersects_xy`` against prepared
polygons, bounding-box candidates from an STRtree). With ~4 million cells about 2% of random
points in Hebei's box fall in border cells.

Why this is exact, not approximate: the cell of a coordinate is ``floor((x - x0) * inv)``,
a monotone function of x in floating point; a segment's cells are marked from the cells of its
bounding box computed with the same function, so every point of a segment falls in a marked
cell. The points that map to a run of unmarked cells in one row therefore form a rectangle that
no boundary crosses, and one exact test at the run's first cell centre answers for all of it.

Shared borders and overlaps: a point is answered by the division whose closed polygon covers it
(boundary included) with the lowest rank, and ranks follow adcode order, so a point on the
border of two counties goes to the lower adcode, deterministically and on every backend.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon

log = logging.getLogger(__name__)

OUTSIDE = -1
BORDER = -2
FORMAT_VERSION = 1
# ~4M cells: 350 m cells over Hebei, 8 MB as int16, ~2% of random points on the exact path.
TARGET_CELLS = 4_000_000

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


class ExactLocator:
    """The reference answer: lowest-rank division whose closed polygon covers the point."""

    def __init__(self, geometries: Sequence[MultiPolygon]) -> None:
        self.geometries = np.array(geometries, dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)

    def locate(self, xs: FloatArray, ys: FloatArray) -> IntArray:
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        result = np.full(len(xs), len(self.geometries), dtype=np.intp)
        if len(xs):
            point_idx, geom_idx = self.tree.query(shapely.points(xs, ys))
            hit = np.zeros(len(point_idx), dtype=bool)
            order = np.argsort(geom_idx, kind="stable")
            bounds = np.searchsorted(geom_idx[order], np.arange(len(self.geometries) + 1))
            for rank in range(len(self.geometries)):
                chosen = order[bounds[rank] : bounds[rank + 1]]
                if len(chosen):
                    pts = point_idx[chosen]
                    hit[chosen] = shapely.intersects_xy(self.geometries[rank], xs[pts], ys[pts])
            np.minimum.at(result, point_idx[hit], geom_idx[hit])
        result[result == len(self.geometries)] = OUTSIDE
        return result


def content_key(adcodes: Sequence[str], geometries: Sequence[MultiPolygon]) -> str:
    """Identifies the divisions a grid was built from (cache key on disk)."""
    digest = hashlib.sha256(f"grid-v{FORMAT_VERSION}".encode())
    for adcode, geometry in zip(adcodes, geometries, strict=True):
        digest.update(adcode.encode())
        digest.update(shapely.to_wkb(geometry))
    return digest.hexdigest()


def _segments(geometries: Sequence[MultiPolygon]) -> FloatArray:
    """All boundary segments of all rings as an (n, 2, 2) array."""
    rings = shapely.get_rings(shapely.get_parts(np.array(geometries, dtype=object)))
    coords, ring_index = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_index[:-1] == ring_index[1:]
    return np.stack([coords[:-1][same_ring], coords[1:][same_ring]], axis=1)


class GridIndex:
    def __init__(
        self,
        x0: float,
        y0: float,
        cell: float,
        grid: npt.NDArray[np.integer],
        locator: ExactLocator,
    ) -> None:
        self.x0 = x0
        self.y0 = y0
        self.cell = cell
        self.inv = 1.0 / cell
        self.grid = grid
        self.flat = grid.ravel()
        self.ny, self.nx = grid.shape
        self.locator = locator

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls, geometries: Sequence[MultiPolygon], *, target_cells: int = TARGET_CELLS
    ) -> GridIndex:
        locator = ExactLocator(geometries)
        xmin, ymin, xmax, ymax = shapely.total_bounds(locator.geometries)
        width, height = float(xmax - xmin), float(ymax - ymin)
        cell = max(np.sqrt(width * height / target_cells), 1e-6)
        nx = int(width / cell) + 2
        ny = int(height / cell) + 2
        # Start half a cell out so that no boundary vertex sits on the grid's outer edge.
        x0, y0 = float(xmin) - cell / 2, float(ymin) - cell / 2
        index = cls(x0, y0, cell, np.zeros((ny, nx), dtype=np.int32), locator)
        border = index._mark_border(_segments(geometries))
        grid = index._classify(border, len(geometries))
        return cls(x0, y0, cell, grid, locator)

    def _cells(self, xs: FloatArray, ys: FloatArray) -> tuple[IntArray, IntArray]:
        # The one formula used both to mark segments and to look points up (see module doc).
        ix = np.floor((xs - self.x0) * self.inv).astype(np.intp)
        iy = np.floor((ys - self.y0) * self.inv).astype(np.intp)
        return np.clip(ix, 0, self.nx - 1), np.clip(iy, 0, self.ny - 1)

    def _mark_border(self, segments: FloatArray) -> npt.NDArray[np.bool_]:
        border = np.zeros((self.ny, self.nx), dtype=bool)
        lo_x, lo_y = self._cells(segments[:, :, 0].min(axis=1), segments[:, :, 1].min(axis=1))
        hi_x, hi_y = self._cells(segments[:, :, 0].max(axis=1), segments[:, :, 1].max(axis=1))
        short = ((hi_x - lo_x) <= 2) & ((hi_y - lo_y) <= 2)
        for dx in range(3):
            for dy in range(3):
                sel = short & (lo_x + dx <= hi_x) & (lo_y + dy <= hi_y)
                border[lo_y[sel] + dy, lo_x[sel] + dx] = True
        # Long segments (straight borders across many cells): walk them in half-cell steps and
        # mark each step's cells with one cell of margin, which covers floating-point error.
        long = segments[~short]
        if len(long):
            start, delta = long[:, 0], long[:, 1] - long[:, 0]
            steps = (np.hypot(delta[:, 0], delta[:, 1]) * self.inv * 2).astype(np.intp) + 1
            owner = np.repeat(np.arange(len(long)), steps + 1)
            first = np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
            t = (np.arange(len(owner)) - first) / steps[owner]
            ix, iy = self._cells(
                start[owner, 0] + delta[owner, 0] * t, start[owner, 1] + delta[owner, 1] * t
            )
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    border[np.clip(iy + dy, 0, self.ny - 1), np.clip(ix + dx, 0, self.nx - 1)] = (
                        True
                    )
        return border

    def _classify(self, border: npt.NDArray[np.bool_], count: int) -> npt.NDArray[np.integer]:
        flat_border = border.ravel()
        open_cells = ~flat_border
        row_start = np.zeros(flat_border.shape, dtype=bool)
        row_start[:: self.nx] = True
        previous_closed = np.concatenate([[True], flat_border[:-1]])
        starts = open_cells & (row_start | previous_closed)
        run_of = np.cumsum(starts) - 1
        first = np.flatnonzero(starts)
        cx = self.x0 + (first % self.nx + 0.5) * self.cell
        cy = self.y0 + (first // self.nx + 0.5) * self.cell
        answers = self.locator.locate(cx, cy)
        dtype = np.int16 if count < np.iinfo(np.int16).max else np.int32
        flat = np.full(flat_border.shape, BORDER, dtype=dtype)
        flat[open_cells] = answers[run_of[open_cells]]
        log.info(
            "jurisdiction grid %dx%d (%.4f° cells): %d runs tested, %.1f%% border cells",
            self.nx,
            self.ny,
            self.cell,
            len(first),
            100.0 * flat_border.mean(),
        )
        return flat.reshape(border.shape)

    # -- disk cache -------------------------------------------------------------------------

    def save(self, path: Path, key: str) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, grid=self.grid, params=np.array([self.x0, self.y0, self.cell]), key=key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(buffer.getvalue())
        temporary.replace(path)  # atomic: a concurrent reader sees the old file or the new one

    @classmethod
    def load(cls, path: Path, key: str, geometries: Sequence[MultiPolygon]) -> GridIndex | None:
        try:
            with np.load(path) as data:
                if str(data["key"]) != key:
                    return None
                x0, y0, cell = (float(v) for v in data["params"])
                grid = data["grid"]
        except (OSError, KeyError, ValueError):
            return None
        return cls(x0, y0, cell, grid, ExactLocator(geometries))

    @classmethod
    def cached(cls, path: Path | None, key: str, geometries: Sequence[MultiPolygon]) -> GridIndex:
        if path is not None and (index := cls.load(path, key, geometries)) is not None:
            return index
        index = cls.build(geometries)
        if path is not None:
            try:
                index.save(path, key)
            except OSError as exc:  # a read-only data dir costs start-up time, nothing else
                log.warning("cannot cache the jurisdiction grid at %s: %s", path, exc)
        return index

    # -- lookup -----------------------------------------------------------------------------

    def ranks(self, xs: npt.ArrayLike, ys: npt.ArrayLike) -> IntArray:
        """Rank of the division holding each point, or OUTSIDE (-1); NaN is outside."""
        lon = np.asarray(xs, dtype=np.float64)
        lat = np.asarray(ys, dtype=np.float64)
        fx = (lon - self.x0) * self.inv
        fy = (lat - self.y0) * self.inv
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        # In range, truncation equals floor; elsewhere 0 stands in (and NaN never reaches a cast).
        ix = np.where(inside, fx, 0.0).astype(np.intp)
        iy = np.where(inside, fy, 0.0).astype(np.intp)
        result: IntArray = self.flat[iy * self.nx + ix].astype(np.intp)
        result[~inside] = OUTSIDE
        border = np.flatnonzero(result == BORDER)
        if len(border):
            result[border] = self.locator.locate(lon[border], lat[border])
        return result
