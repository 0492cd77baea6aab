"""SQLAlchemy 2 tables shared by both runtimes (PostGIS in the distributed one, SQLite embedded).

Natural keys carry unique constraints so that every write can be an idempotent upsert:
an agency's event is unique on (agency, source_id), whatever path it came by.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from infra.db.geometry import GeometryColumn
from infra.db.types import UtcDateTime

# Stable constraint names make migrations reproducible on both dialects.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonColumn = JSON().with_variant(JSONB(), "postgresql")
Timestamp = UtcDateTime()
# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for long-lived logs.
SerialKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AgencyRow(Base):
    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    domains: Mapped[list[str]] = mapped_column(JsonColumn, default=list)


class ApiKeyRow(Base):
    """Agency API keys: only a SHA-256 of the key is kept; ``prefix`` identifies it in logs."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    domains: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class SecretRow(Base):
    """Generated secrets shared by every server of one database (e.g. the token signing key)."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    disabled_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class FeedReceiptRow(Base):
    """The intake ledger: one row per accepted event, written before the 202 is sent.

    It makes retries idempotent, and ``processed_at`` tells which accepted events the pipeline
    has not finished yet (the embedded runtime re-drives those at start-up).
    """

    __tablename__ = "feed_receipts"
    __table_args__ = (UniqueConstraint("agency", "source_id"),)

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    record: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    processed_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True, index=True)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("agency", "source_id"),
        Index("ix_events_occurred_at", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    geometry: Mapped[BaseGeometry | None] = mapped_column(GeometryColumn(), nullable=True)
    province: Mapped[str | None] = mapped_column(String(12), nullable=True)
    city: Mapped[str | None] = mapped_column(String(12), nullable=True)
    county: Mapped[str | None] = mapped_column(String(12), nullable=True)
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id"), nullable=True, index=True
    )


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_category", "status", "category"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    category: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, default="")
    geometry: Mapped[BaseGeometry | None] = mapped_column(GeometryColumn(), nullable=True)
    # Bounding box of the geometry: lets both dialects pre-filter candidates with plain indexes.
    min_lon: Mapped[float | None] = mapped_column(nullable=True)
    min_lat: Mapped[float | None] = mapped_column(nullable=True)
    max_lon: Mapped[float | None] = mapped_column(nullable=True)
    max_lat: Mapped[float | None] = mapped_column(nullable=True)
    # The 0.01° grid cell of the centre: correlation looks up nearby open incidents by cell.
    cell: Mapped[str | None] = mapped_column(String(24), nullable=True, index=True)
    opened_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    last_event_at: Mapped[datetime] = mapped_column(Timestamp)
    province: Mapped[str | None] = mapped_column(String(12), nullable=True)
    city: Mapped[str | None] = mapped_column(String(12), nullable=True)
    county: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    explanation: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    agency: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    unit_ids: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class CommandRow(Base):
    """Operator commands, kept as an audit trail and as the idempotency ledger of retries."""

    __tablename__ = "commands"
    __table_args__ = (UniqueConstraint("user", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    user: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    command: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class ConsoleChangeRow(Base):
    """Ordered log of what the console was told; ``seq`` orders deltas for resync after gaps."""

    __tablename__ = "console_changes"

    seq: Mapped[int] = mapped_column(SerialKey, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class DeadLetterRow(Base):
    """Anything that passed intake validation but failed later, kept with its reason."""

    __tablename__ = "dead_letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    redriven_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
