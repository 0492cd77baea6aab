"""Enrich: attach the province, city and county holding each event, in one batched lookup."""

from __future__ import annotations

import numpy as np
import shapely

from gis.service import GeoService
from streams.domain import Event


def enrich(events: list[Event], geo: GeoService) -> list[Event]:
    located = [event for event in events if event.geometry is not None]
    if not located:
        return events
    # Points stand for themselves; shapes are placed by a point guaranteed to lie inside them.
    anchors = shapely.point_on_surface([event.geometry for event in located])
    lons = np.asarray(shapely.get_x(anchors), dtype=np.float64)
    lats = np.asarray(shapely.get_y(anchors), dtype=np.float64)
    places = geo.lookup_many(lons, lats)
    by_id = {
        event.id: event.with_jurisdiction(place)
        for event, place in zip(located, places, strict=True)
    }
    return [by_id.get(event.id, event) for event in events]
