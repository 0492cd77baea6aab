"""One CAP alert element to events: the alert's fields, then one event per ``<info>``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from pydantic import ValidationError

from command_center.intake import cap_geometry, cap_mapping
from command_center.intake.result import ParsedItem, Rejection
from infra.errors import ValidationFailed
from streams.domain import Domain, Severity
from streams.envelope import EventEnvelope
from streams.schemas import validate_data
from streams.schemas.common import COLOUR_LEVEL

EVENT_TYPE = "cap-alert"


class AlertRefused(Exception):
    """A whole alert is refused: wrong namespace, schema error, unusable ``<sent>``."""

    def __init__(self, reason: str, details: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class _InfoRefused(Exception):
    """One ``<info>`` cannot be mapped; the other infos of its alert still can."""


@dataclass(frozen=True, slots=True)
class _Alert:
    """What every event of one alert shares."""

    namespace: str
    version: str
    identifier: str
    sent: datetime
    fields: dict[str, Any]
    original: str
    index: int
    rejected: list[Rejection] = field(default_factory=list)


def map_alert(
    alert: etree._Element, version: str, original: str, index: int
) -> tuple[list[ParsedItem], list[Rejection]]:
    """Events of a schema-valid alert, and its infos that were refused one by one."""
    namespace = etree.QName(alert).namespace or ""
    reader = _Reader(namespace)
    identifier = reader.text(alert, "identifier") or ""
    try:
        sent = _time(reader.text(alert, "sent"), "sent")
    except _InfoRefused as error:
        details: tuple[dict[str, Any], ...] = (
            {"loc": ["body", "alert", "sent"], "msg": str(error)},
        )
        raise AlertRefused(str(error), details) from None
    fields: dict[str, Any] = {
        "cap_version": version,
        "identifier": identifier,
        "sender": reader.text(alert, "sender"),
        "sent": sent.isoformat(),
        "status": reader.text(alert, "status"),
        "msg_type": reader.text(alert, "msgType"),
        "scope": reader.text(alert, "scope"),
        "source": reader.text(alert, "source"),
        "restriction": reader.text(alert, "restriction"),
        "addresses": reader.text(alert, "addresses"),
        "codes": reader.texts(alert, "code"),
        "note": reader.text(alert, "note"),
        "references": (reader.text(alert, "references") or "").split(),
        "incidents": reader.text(alert, "incidents"),
    }
    context = _Alert(namespace, version, identifier, sent, fields, original, index)
    infos = alert.findall(f"{{{namespace}}}info")
    if not infos:
        try:
            return [_item(context, None, cap_mapping.NO_INFO_DOMAIN, sent, None, None, {})], []
        except ValidationFailed as error:
            raise AlertRefused(error.message, tuple(error.details)) from None
        except _InfoRefused as error:
            raise AlertRefused(str(error)) from None
    items: list[ParsedItem] = []
    for info_index, info in enumerate(infos):
        source_id = source_id_for(identifier, info_index)
        try:
            items.append(_map_info(context, reader, info, info_index))
        except (_InfoRefused, ValidationFailed) as error:
            reason = error.message if isinstance(error, ValidationFailed) else str(error)
            details = tuple(error.details) if isinstance(error, ValidationFailed) else ()
            context.rejected.append(Rejection(index, source_id, reason, details))
    return items, context.rejected


def _map_info(
    context: _Alert, reader: _Reader, info: etree._Element, info_index: int
) -> ParsedItem:
    categories = reader.texts(info, "category")
    event = reader.text(info, "event") or ""
    headline = reader.text(info, "headline")
    event_codes = reader.pairs(info, "eventCode")
    parameters = reader.pairs(info, "parameter")
    times = {name: reader.text(info, name) for name in ("effective", "onset", "expires")}
    parsed = {name: _time(text, name) for name, text in times.items() if text is not None}
    occurred_at = parsed.get("onset") or parsed.get("effective") or context.sent
    colour = cap_mapping.warning_colour(parameters, event, headline)
    areas, geometry = _areas(reader, info)
    severity_text = reader.text(info, "severity")
    data: dict[str, Any] = {
        "info_index": info_index,
        "language": reader.text(info, "language") or "en-US",
        "categories": categories,
        "event": event,
        "response_types": reader.texts(info, "responseType"),
        "urgency": reader.text(info, "urgency"),
        "severity": severity_text,
        "certainty": reader.text(info, "certainty"),
        "audience": reader.text(info, "audience"),
        "event_codes": [{"value_name": n, "value": v} for n, v in event_codes],
        **{name: value.isoformat() for name, value in parsed.items()},
        "sender_name": reader.text(info, "senderName"),
        "headline": headline,
        "description": reader.text(info, "description"),
        "instruction": reader.text(info, "instruction"),
        "web": reader.text(info, "web"),
        "contact": reader.text(info, "contact"),
        "parameters": [{"value_name": n, "value": v} for n, v in parameters],
        "resources": [_resource(reader, element) for element in reader.all(info, "resource")],
        "areas": areas,
        "area_desc": "; ".join(area["area_desc"] for area in areas) or None,
        "warning_colour": colour,
        "level": None if colour is None else COLOUR_LEVEL[colour],
    }
    domain = cap_mapping.domain_for(categories, event, (value for _, value in event_codes))
    severity = cap_mapping.SEVERITY.get(severity_text or "")
    return _item(context, info_index, domain, occurred_at, geometry, severity, data)


def _item(
    context: _Alert,
    info_index: int | None,
    domain: Domain,
    occurred_at: datetime,
    geometry: dict[str, Any] | None,
    severity: Severity | None,
    info_data: dict[str, Any],
) -> ParsedItem:
    source_id = source_id_for(context.identifier, info_index)
    raw = {
        key: value for key, value in {**context.fields, **info_data}.items() if value is not None
    }
    data = validate_data(domain, EVENT_TYPE, raw)
    try:
        envelope = EventEnvelope(
            source_id=source_id,
            type=EVENT_TYPE,
            occurred_at=occurred_at,
            geometry=geometry,
            crs="EPSG:4326",
            severity=severity,
            data=data,
        )
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _InfoRefused(f"{where}: {first['msg']}") from None
    return ParsedItem(domain=domain, envelope=envelope, original=context.original)


def _areas(
    reader: _Reader, info: etree._Element
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    areas: list[dict[str, Any]] = []
    rings: list[list[list[float]]] = []
    points: list[tuple[float, float]] = []
    for area in reader.all(info, "area"):
        polygons = reader.texts(area, "polygon")
        circles = reader.texts(area, "circle")
        try:
            rings += [cap_geometry.parse_polygon(text) for text in polygons]
            for text in circles:
                lon, lat, radius = cap_geometry.parse_circle(text)
                if radius == 0:
                    points.append((lon, lat))
                else:
                    rings.append(cap_geometry.circle_ring(lon, lat, radius))
        except cap_geometry.GeometryError as error:
            raise _InfoRefused(f"area {len(areas)}: {error}") from None
        altitude, ceiling = reader.text(area, "altitude"), reader.text(area, "ceiling")
        areas.append(
            {
                "area_desc": reader.text(area, "areaDesc") or "",
                "geocodes": [
                    {"value_name": n, "value": v} for n, v in reader.pairs(area, "geocode")
                ],
                "polygons": len(polygons),
                "circles": len(circles),
                "altitude_ft": _number(altitude, "altitude", float),
                "ceiling_ft": _number(ceiling, "ceiling", float),
            }
        )
    return areas, cap_geometry.to_geojson(rings, points)


def _resource(reader: _Reader, element: etree._Element) -> dict[str, Any]:
    size = reader.text(element, "size")
    return {
        "description": reader.text(element, "resourceDesc") or "",
        "mime_type": reader.text(element, "mimeType"),
        "size_bytes": _number(size, "size", int),
        "uri": reader.text(element, "uri"),
        "digest": reader.text(element, "digest"),
    }


def _number(text: str | None, name: str, kind: type[float] | type[int]) -> float | None:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        # The schema checked the syntax; this is e.g. an integer of more than 4,300 digits.
        raise _InfoRefused(f"<{name}> {text[:40]!r} is not a usable number") from None


def _time(text: str | None, name: str) -> datetime:
    if text is None:
        raise _InfoRefused(f"<{name}> is missing")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _InfoRefused(f"<{name}> {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise _InfoRefused(f"<{name}> {text!r} has no time zone; CAP times must carry one")
    return value


class _Reader:
    """Child lookups in the alert's namespace (CAP 1.1 and 1.2 share element names)."""

    def __init__(self, namespace: str) -> None:
        self._prefix = f"{{{namespace}}}"

    def all(self, parent: etree._Element, name: str) -> list[etree._Element]:
        return parent.findall(self._prefix + name)

    def text(self, parent: etree._Element, name: str) -> str | None:
        element = parent.find(self._prefix + name)
        text = None if element is None else (element.text or "").strip()
        return text or None

    def texts(self, parent: etree._Element, name: str) -> list[str]:
        return [t for e in self.all(parent, name) if (t := (e.text or "").strip())]

    def pairs(self, parent: etree._Element, name: str) -> list[tuple[str, str]]:
        return [
            (self.text(element, "valueName") or "", self.text(element, "value") or "")
            for element in self.all(parent, name)
        ]


def source_id_for(identifier: str, info_index: int | None) -> str:
    """``identifier#n``, kept within the envelope's 200 characters by hashing long identifiers."""
    if len(identifier) > 180:
        digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:40]
        identifier = f"{identifier[:100]}~{digest}"
    return identifier if info_index is None else f"{identifier}#{info_index}"
