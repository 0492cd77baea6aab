"""The domain core: events, incidents, agencies, units, tasks, alerts.

Plain dataclasses, no framework. Geometry is a shapely geometry in WGS-84 (EPSG:4326, lon/lat);
``to_json``/``from_json`` give the wire form used on the bus, in storage and on the console.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

SCHEMA_VERSION = 1

# Fixed namespace so that one agency's source id always maps to the same event id: retries and
# replays reproduce the id the agency was first given.
EVENT_NAMESPACE = uuid.UUID("5b0c3c2e-8d1c-4f61-9a57-1c2f3e0d7a11")


class Domain(StrEnum):
    INCIDENT = "incident"
    FLOOD = "flood"
    HEALTH = "health"
    SAFETY = "safety"
    WARNING = "warning"
    RESOURCE = "resource"


class Level(StrEnum):
    """China's four response levels; I is the gravest."""

    I = "I"  # noqa: E741 - the official name of the level
    II = "II"
    III = "III"
    IV = "IV"

    @property
    def rank(self) -> int:
        """4 for I … 1 for IV, so that ``max`` picks the gravest."""
        return {"I": 4, "II": 3, "III": 2, "IV": 1}[self.value]

    @property
    def colour(self) -> str:
        return {"I": "red", "II": "orange", "III": "yellow", "IV": "blue"}[self.value]

    @property
    def name_zh(self) -> str:
        return {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}[self.value]

    @classmethod
    def gravest(cls, levels: list[Level]) -> Level:
        return max(levels, key=lambda level: level.rank)


class Severity(StrEnum):
    """CAP 1.2 severity, also used for agency-declared severity of any event."""

    EXTREME = "extreme"
    SEVERE = "severe"
    MODERATE = "moderate"
    MINOR = "minor"
    UNKNOWN = "unknown"


class IncidentStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESPONDING = "responding"
    CONTAINED = "contained"
    CLOSED = "closed"


class TaskStatus(StrEnum):
    PROPOSED = "proposed"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DONE = "done"
    CANCELLED = "cancelled"


class UnitStatus(StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    RETURNING = "returning"
    OUT_OF_SERVICE = "out_of_service"


class AlertStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def event_id_for(agency: str, source_id: str) -> str:
    """The stable id of an agency's event: the idempotency key made into a UUID."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{agency}\x1f{source_id}"))


def geometry_to_json(geometry: BaseGeometry | None) -> dict[str, Any] | None:
    return None if geometry is None else dict(mapping(geometry))


def geometry_from_json(value: dict[str, Any] | None) -> BaseGeometry | None:
    return None if value is None else shape(value)


def _iso(value: datetime) -> str:
    """Times go out in UTC whatever zone they came in: storage answers in UTC too, so a delta
    and a later read of the same incident say the same thing."""
    return value.astimezone(UTC).isoformat()


def _dt(value: str | datetime) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every time carries its zone")
    return parsed


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """Administrative divisions holding a point (adcodes; None when outside every division)."""

    province: str | None = None
    city: str | None = None
    county: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"province": self.province, "city": self.city, "county": self.county}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Jurisdiction:
        value = value or {}
        return cls(value.get("province"), value.get("city"), value.get("county"))


@dataclass(frozen=True, slots=True)
class Event:
    """One normalized fact reported by an agency."""

    id: str
    agency: str
    domain: Domain
    type: str
    source_id: str
    occurred_at: datetime
    received_at: datetime
    geometry: BaseGeometry | None
    severity: Severity | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    jurisdiction: Jurisdiction = field(default_factory=Jurisdiction)

    def with_jurisdiction(self, jurisdiction: Jurisdiction) -> Event:
        return replace(self, jurisdiction=jurisdiction)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "id": self.id,
            "agency": self.agency,
            "domain": self.domain.value,
            "type": self.type,
            "source_id": self.source_id,
            "occurred_at": _iso(self.occurred_at),
            "received_at": _iso(self.received_at),
            "geometry": geometry_to_json(self.geometry),
            "severity": None if self.severity is None else self.severity.value,
            "attributes": self.attributes,
            "jurisdiction": self.jurisdiction.to_json(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Event:
        return cls(
            id=value["id"],
            agency=value["agency"],
            domain=Domain(value["domain"]),
            type=value["type"],
            source_id=value["source_id"],
            occurred_at=_dt(value["occurred_at"]),
            received_at=_dt(value["received_at"]),
            geometry=geometry_from_json(value.get("geometry")),
            severity=None if value.get("severity") is None else Severity(value["severity"]),
            attributes=dict(value.get("attributes") or {}),
            jurisdiction=Jurisdiction.from_json(value.get("jurisdiction")),
        )


@dataclass(frozen=True, slots=True)
class Task:
    """Work given to one agency as part of the coordinated response to an incident."""

    id: str
    incident_id: str
    agency: str
    action: str
    status: TaskStatus = TaskStatus.PROPOSED
    unit_ids: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=utcnow)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "agency": self.agency,
            "action": self.action,
            "status": self.status.value,
            "unit_ids": list(self.unit_ids),
            "created_at": _iso(self.created_at),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Task:
        return cls(
            id=value["id"],
            incident_id=value["incident_id"],
            agency=value["agency"],
            action=value["action"],
            status=TaskStatus(value["status"]),
            unit_ids=tuple(value.get("unit_ids") or ()),
            created_at=_dt(value["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class Incident:
    """What is happening at one place: one or more events correlated into a unit of response."""

    id: str
    category: str
    level: Level
    status: IncidentStatus
    geometry: BaseGeometry | None
    opened_at: datetime
    updated_at: datetime
    title: str = ""
    event_ids: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    jurisdiction: Jurisdiction = field(default_factory=Jurisdiction)
    explanation: str = ""
    version: int = 1

    @property
    def centroid(self) -> tuple[float, float] | None:
        if self.geometry is None or self.geometry.is_empty:
            return None
        point = self.geometry if self.geometry.geom_type == "Point" else self.geometry.centroid
        return (float(shapely.get_x(point)), float(shapely.get_y(point)))

    def to_json(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "id": self.id,
            "category": self.category,
            "level": self.level.value,
            "level_colour": self.level.colour,
            "status": self.status.value,
            "title": self.title,
            "geometry": geometry_to_json(self.geometry),
            "opened_at": _iso(self.opened_at),
            "updated_at": _iso(self.updated_at),
            "event_ids": list(self.event_ids),
            "tasks": [task.to_json() for task in self.tasks],
            "province": self.jurisdiction.province,
            "city": self.jurisdiction.city,
            "county": self.jurisdiction.county,
            "explanation": self.explanation,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Incident:
        return cls(
            id=value["id"],
            category=value["category"],
            level=Level(value["level"]),
            status=IncidentStatus(value["status"]),
            geometry=geometry_from_json(value.get("geometry")),
            opened_at=_dt(value["opened_at"]),
            updated_at=_dt(value["updated_at"]),
            title=value.get("title", ""),
            event_ids=tuple(value.get("event_ids") or ()),
            tasks=tuple(Task.from_json(task) for task in value.get("tasks") or ()),
            jurisdiction=Jurisdiction(
                value.get("province"), value.get("city"), value.get("county")
            ),
            explanation=value.get("explanation", ""),
            version=int(value.get("version", 1)),
        )


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str
    name_en: str
    domains: tuple[Domain, ...] = ()


@dataclass(frozen=True, slots=True)
class Unit:
    """A response resource: fire engine, ambulance, rescue team, boat, pump …"""

    id: str
    agency: str
    type: str
    name: str
    status: UnitStatus = UnitStatus.AVAILABLE
    position: BaseGeometry | None = None
    home_station: str | None = None
    updated_at: datetime = field(default_factory=utcnow)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agency": self.agency,
            "type": self.type,
            "name": self.name,
            "status": self.status.value,
            "position": geometry_to_json(self.position),
            "home_station": self.home_station,
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """A notice to on-duty staff that must be acknowledged before it escalates."""

    id: str
    incident_id: str
    level: Level
    recipient: str
    channel: str
    message: str
    status: AlertStatus = AlertStatus.PENDING
    created_at: datetime = field(default_factory=utcnow)
    acknowledged_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "level": self.level.value,
            "recipient": self.recipient,
            "channel": self.channel,
            "message": self.message,
            "status": self.status.value,
            "created_at": _iso(self.created_at),
            "acknowledged_at": None if self.acknowledged_at is None else _iso(self.acknowledged_at),
        }


# The participating agencies of DESIGN.md; more are added as data (the ``agencies`` table).
AGENCIES: tuple[Agency, ...] = (
    Agency("public-security", "公安厅", "Public Security", (Domain.INCIDENT, Domain.RESOURCE)),
    Agency("fire", "消防救援", "Fire and Rescue", (Domain.INCIDENT, Domain.RESOURCE)),
    Agency("health", "卫生厅", "Health", (Domain.INCIDENT, Domain.HEALTH, Domain.RESOURCE)),
    Agency("water", "水利厅", "Water Resources", (Domain.FLOOD, Domain.RESOURCE)),
    Agency("meteorology", "气象局", "Meteorology", (Domain.WARNING,)),
    Agency("earthquake", "地震局", "Earthquake", (Domain.WARNING,)),
    Agency("work-safety", "安全生产监督管理局", "Work Safety", (Domain.SAFETY,)),
    Agency("transport", "交通厅", "Transport", (Domain.INCIDENT, Domain.RESOURCE)),
    Agency("military", "省军区", "Provincial Military District", (Domain.RESOURCE,)),
    Agency("agriculture", "农业厅", "Agriculture", ()),
    Agency("construction", "建设厅", "Construction", ()),
    Agency("state-security", "国家安全厅", "State Security", ()),
    Agency("information", "信息产业厅", "Information Industry", ()),
    Agency("communications", "通信管理局", "Communications", ()),
    Agency("forestry", "林业局", "Forestry", (Domain.WARNING,)),
    Agency("radio", "无线电管理局", "Radio Administration", ()),
    Agency("surveying", "测绘局", "Surveying and Mapping", ()),
)
AGENCY_CODES = frozenset(agency.code for agency in AGENCIES)
