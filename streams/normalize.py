"""Normalize: raw records (as agencies sent them) into domain events in WGS-84.

Problems found here are per-record: a record that cannot be normalized goes to the dead letters
with its reason, and the rest of the batch carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from pydantic import ValidationError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.crs import to_wgs84
from infra.errors import LinkageError
from streams.domain import Event, event_id_for
from streams.envelope import RawRecord
from streams.schemas import validate_data


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the pipeline could not take, and why (becomes a dead letter)."""

    stage: str
    reason: str
    record: dict[str, Any]


def parse_raw(values: list[bytes]) -> tuple[list[RawRecord], list[Rejected]]:
    """Decode raw-topic messages; agencies producing to Kafka themselves are validated here."""
    records: list[RawRecord] = []
    rejected: list[Rejected] = []
    for value in values:
        try:
            records.append(RawRecord.model_validate_json(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            rejected.append(
                Rejected("decode", f"{where}: {first.get('msg')}", {"raw": _text(value)})
            )
    return records, rejected


def _text(value: bytes) -> str:
    return value[:65536].decode("utf-8", errors="replace")


def repair(geometry: BaseGeometry) -> BaseGeometry:
    """``make_valid`` that keeps an area an area: a self-intersecting warning polygon comes
    back as polygons, without the slivers of line make_valid may add beside them."""
    fixed = shapely.make_valid(geometry)
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or fixed.geom_type in (
        "Polygon",
        "MultiPolygon",
    ):
        return fixed
    polygons = [
        part for part in shapely.get_parts(fixed) if part.geom_type in ("Polygon", "MultiPolygon")
    ]
    parts = [p for poly in polygons for p in shapely.get_parts(poly)]
    return shapely.multipolygons(parts) if parts else fixed


def normalize(records: list[RawRecord]) -> tuple[list[Event], list[Rejected]]:
    events: list[Event] = []
    rejected: list[Rejected] = []
    for record in records:
        envelope = record.envelope
        try:
            # Agencies producing to Kafka bypass the HTTP validation: the same schema rules here.
            data = validate_data(record.domain, envelope.type, envelope.data)
            geometry = None
            if envelope.geometry is not None:
                geometry = to_wgs84(shape(envelope.geometry.model_dump()), envelope.crs)
                if not shapely.is_valid(geometry):
                    geometry = repair(geometry)
        except (LinkageError, ValueError, shapely.errors.ShapelyError) as exc:
            message = exc.message if isinstance(exc, LinkageError) else str(exc)
            rejected.append(Rejected("normalize", message, record.model_dump(mode="json")))
            continue
        events.append(
            Event(
                # Derived, never trusted: a producer writing to Kafka may send any id, and the
                # natural key (agency, source id) is what makes the event itself.
                id=event_id_for(record.agency, envelope.source_id),
                agency=record.agency,
                domain=record.domain,
                type=envelope.type,
                source_id=envelope.source_id,
                occurred_at=envelope.occurred_at,
                received_at=record.received_at,
                geometry=geometry,
                severity=envelope.severity,
                attributes=data,
            )
        )
    return events, rejected
