"""Correlate: join detections into unified incidents.

A detection joins an open incident of the same category whose centre lies within the radius and
whose last event is within the time window; otherwise it opens a new incident. Candidates come
from storage; incidents opened earlier in the same batch are candidates too, so a burst of calls
about one fire makes one incident whatever the batch boundaries.

Incidents are indexed by the 0.01° grid cell of their centre, in storage and in memory, so each
detection looks only at the handful of cells its radius can reach: the work is linear in the
batch, whatever the number of open incidents.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import shapely
from shapely.geometry.base import BaseGeometry

from streams.detect import Detection
from streams.domain import Incident, IncidentStatus, Level, new_id

EARTH_RADIUS_M = 6_371_008.8
CELL_DEGREES = 0.01
_MAX_POINTS = 200  # an incident's geometry keeps at most this many event locations

Cell = tuple[int, int]


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance in metres between (lon, lat) pairs."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def search_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box holding every point within ``radius_m`` (for index pre-filtering)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def cell_of(lon: float, lat: float) -> Cell:
    return (math.floor(lon / CELL_DEGREES), math.floor(lat / CELL_DEGREES))


def cell_key(cell: Cell) -> str:
    return f"{cell[0]}:{cell[1]}"


def cells_near(lon: float, lat: float, radius_m: float) -> list[Cell]:
    """Every cell that may hold a centre within ``radius_m`` of (lon, lat)."""
    west, south, east, north = search_box(lon, lat, radius_m)
    x0, y0 = cell_of(west, south)
    x1, y1 = cell_of(east, north)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


@dataclass
class IncidentChange:
    """An incident as it stands after this batch, and what the batch did to it.

    Candidates from storage arrive ``partial``: without their event ids and tasks, which are
    loaded only for the incidents a batch actually touches.
    """

    incident: Incident
    created: bool
    added_event_ids: list[str] = field(default_factory=list)
    last_event_at: datetime | None = None
    partial: bool = False
    centre: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.centre is None:
            self.centre = self.incident.centroid


@dataclass(frozen=True, slots=True)
class Candidate:
    incident: Incident
    last_event_at: datetime
    partial: bool = True


def _merge_geometry(current: BaseGeometry | None, point: BaseGeometry) -> BaseGeometry:
    if current is None or current.is_empty:
        return point
    parts = list(shapely.get_parts(current))
    if len(parts) >= _MAX_POINTS:
        return current
    return shapely.multipoints([*parts, point]) if parts else point


class _Pool:
    """Open incidents by (category, centre cell)."""

    def __init__(self, changes: Iterable[IncidentChange]) -> None:
        self._cells: dict[tuple[str, Cell], list[IncidentChange]] = defaultdict(list)
        for change in changes:
            self.add(change)

    def add(self, change: IncidentChange) -> None:
        if change.centre is not None:
            self._cells[(change.incident.category, cell_of(*change.centre))].append(change)

    def move(self, change: IncidentChange, old: tuple[float, float] | None) -> None:
        if old is not None:
            self._cells[(change.incident.category, cell_of(*old))].remove(change)
        self.add(change)

    def near(
        self, category: str, where: tuple[float, float], radius_m: float
    ) -> list[IncidentChange]:
        return [
            change
            for cell in cells_near(where[0], where[1], radius_m)
            for change in self._cells.get((category, cell), ())
        ]


def correlate(
    detections: list[Detection],
    candidates: list[Candidate],
    *,
    radius_m: float,
    window: timedelta,
    now: datetime,
) -> list[IncidentChange]:
    pool = _Pool(
        IncidentChange(c.incident, created=False, last_event_at=c.last_event_at, partial=c.partial)
        for c in candidates
    )
    touched: dict[str, IncidentChange] = {}
    for detection in detections:
        event = detection.event
        assert event.geometry is not None  # detect() only passes located events
        point = event.geometry if event.geometry.geom_type == "Point" else event.geometry.centroid
        where = (float(shapely.get_x(point)), float(shapely.get_y(point)))
        match = _best_match(
            pool.near(detection.category, where, radius_m), detection, where, radius_m, window
        )
        if match is None:
            incident = Incident(
                id=new_id(),
                category=detection.category,
                level=detection.level,
                status=IncidentStatus.NEW,
                geometry=point,
                opened_at=event.occurred_at,  # when it began, not when we heard
                updated_at=now,
                title=detection.title,
                event_ids=(event.id,),
                jurisdiction=event.jurisdiction,
                explanation=detection.explanation,
            )
            change = IncidentChange(incident, True, [event.id], event.occurred_at, centre=where)
            pool.add(change)
            touched[incident.id] = change
            continue
        current = match.incident
        graver = detection.level.rank > current.level.rank
        match.incident = replace(
            current,
            level=Level.gravest([current.level, detection.level]),
            geometry=_merge_geometry(current.geometry, point),
            event_ids=(*current.event_ids, event.id),
            explanation=detection.explanation if graver else current.explanation,
            updated_at=now,
            version=current.version + (0 if current.id in touched else 1),
        )
        old_centre, match.centre = match.centre, match.incident.centroid
        pool.move(match, old_centre)
        match.added_event_ids.append(event.id)
        if match.last_event_at is None or event.occurred_at > match.last_event_at:
            match.last_event_at = event.occurred_at
        touched[current.id] = match
    return list(touched.values())


def _best_match(
    nearby: list[IncidentChange],
    detection: Detection,
    where: tuple[float, float],
    radius_m: float,
    window: timedelta,
) -> IncidentChange | None:
    best: tuple[float, IncidentChange] | None = None
    for change in nearby:
        incident = change.incident
        if incident.status is IncidentStatus.CLOSED or change.centre is None:
            continue
        last = change.last_event_at or incident.updated_at
        if abs(detection.event.occurred_at - last) > window:
            continue
        distance = distance_m(change.centre, where)
        if distance <= radius_m and (best is None or distance < best[0]):
            best = (distance, change)
    return None if best is None else best[1]
