"""Tables of the geodata base, on the shared metadata (migration 0002 creates them).

Divisions keep their own table (the jurisdiction hierarchy). Every other static layer (rivers,
gauges, reservoirs, hazard sources and their buffer zones, flood zones, warning areas, hospitals,
shelters, places) is a row set of ``geo_features`` keyed by (layer, fid): one GiST index serves
all the spatial questions, a new layer needs no migration, and each layer's typed attributes are
validated on load by its schema in :mod:`gis.layers`. Units move, so they have their own table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from infra.db.geometry import GeometryColumn
from infra.db.models import Base, JsonColumn, Timestamp


class DivisionRow(Base):
    __tablename__ = "geo_divisions"

    adcode: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_adcode: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    geometry: Mapped[BaseGeometry] = mapped_column(GeometryColumn("MULTIPOLYGON"))
    loaded_at: Mapped[datetime] = mapped_column(Timestamp)


class LayerRow(Base):
    """One loaded layer: where it came from, whether it is sample data, and its version (the
    ETag of its map data changes whenever it is reloaded)."""

    __tablename__ = "geo_layers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    feature_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(Timestamp)


class FeatureRow(Base):
    __tablename__ = "geo_features"

    layer: Mapped[str] = mapped_column(ForeignKey("geo_layers.name"), primary_key=True)
    fid: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(64), nullable=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    geometry: Mapped[BaseGeometry] = mapped_column(GeometryColumn())


class UnitRow(Base):
    """A response unit and its last known position (AVL); ``updated_at`` orders the updates."""

    __tablename__ = "units"
    __table_args__ = (Index("ix_units_status_type", "status", "type"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    home_station: Mapped[str | None] = mapped_column(String(200), nullable=True)
    position: Mapped[BaseGeometry | None] = mapped_column(GeometryColumn("POINT"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
