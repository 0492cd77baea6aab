"""Geodata: divisions, layers and their features, units (with GiST indexes on PostGIS).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import infra.db.geometry
import infra.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    is_postgis = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "geo_divisions",
        sa.Column("adcode", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_adcode", sa.String(length=12), nullable=True),
        sa.Column("geometry", infra.db.geometry.GeometryColumn("MULTIPOLYGON"), nullable=False),
        sa.Column("loaded_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("adcode", name=op.f("pk_geo_divisions")),
    )
    op.create_index(op.f("ix_geo_divisions_level"), "geo_divisions", ["level"])
    op.create_index(op.f("ix_geo_divisions_parent_adcode"), "geo_divisions", ["parent_adcode"])
    op.create_table(
        "geo_layers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("feature_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_geo_layers")),
    )
    op.create_table(
        "geo_features",
        sa.Column("layer", sa.String(length=64), nullable=False),
        sa.Column("fid", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("properties", _JSON, nullable=False),
        sa.Column("geometry", infra.db.geometry.GeometryColumn(), nullable=False),
        sa.ForeignKeyConstraint(
            ["layer"], ["geo_layers.name"], name=op.f("fk_geo_features_layer_geo_layers")
        ),
        sa.PrimaryKeyConstraint("layer", "fid", name=op.f("pk_geo_features")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("home_station", sa.String(length=200), nullable=True),
        sa.Column("position", infra.db.geometry.GeometryColumn("POINT"), nullable=True),
        sa.Column("updated_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
    )
    op.create_index(op.f("ix_units_agency"), "units", ["agency"])
    op.create_index("ix_units_status_type", "units", ["status", "type"])
    if is_postgis:
        # Planar GiST for containment (ST_Covers/ST_Intersects on lon/lat) and for map tiles;
        # geography GiST for distances in metres (ST_DWithin and KNN <-> on the spheroid).
        op.create_index(
            "ix_geo_divisions_geometry", "geo_divisions", ["geometry"], postgresql_using="gist"
        )
        op.create_index(
            "ix_geo_features_geometry", "geo_features", ["geometry"], postgresql_using="gist"
        )
        op.create_index(
            "ix_geo_features_geography",
            "geo_features",
            [sa.text("(geography(geometry))")],
            postgresql_using="gist",
        )
        op.create_index(
            "ix_units_position_geography",
            "units",
            [sa.text("(geography(position))")],
            postgresql_using="gist",
        )


def downgrade() -> None:
    op.drop_table("units")
    op.drop_table("geo_features")
    op.drop_table("geo_layers")
    op.drop_table("geo_divisions")
