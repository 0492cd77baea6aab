"""Core tables: agencies, keys, users, intake ledger, events, incidents, tasks, console log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 20:24:10.687420
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import infra.db.geometry
import infra.db.types
from streams.domain import AGENCIES

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    is_postgis = op.get_bind().dialect.name == "postgresql"
    if is_postgis:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "agencies",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column(
            "domains",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_agencies")),
    )
    op.create_table(
        "console_changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_console_changes")),
    )
    op.create_index(
        op.f("ix_console_changes_entity_id"), "console_changes", ["entity_id"], unique=False
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "record",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("redriven_at", infra.db.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        op.f("ix_dead_letters_created_at"), "dead_letters", ["created_at"], unique=False
    )
    op.create_table(
        "feed_receipts",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("received_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column(
            "record",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("processed_at", infra.db.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_feed_receipts")),
        sa.UniqueConstraint("agency", "source_id", name=op.f("uq_feed_receipts_agency_source_id")),
    )
    op.create_index(
        op.f("ix_feed_receipts_processed_at"), "feed_receipts", ["processed_at"], unique=False
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("geometry", infra.db.geometry.GeometryColumn(), nullable=True),
        sa.Column("min_lon", sa.Double(), nullable=True),
        sa.Column("min_lat", sa.Double(), nullable=True),
        sa.Column("max_lon", sa.Double(), nullable=True),
        sa.Column("max_lat", sa.Double(), nullable=True),
        sa.Column("cell", sa.String(length=24), nullable=True),
        sa.Column("opened_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("last_event_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("province", sa.String(length=12), nullable=True),
        sa.Column("city", sa.String(length=12), nullable=True),
        sa.Column("county", sa.String(length=12), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_cell"), "incidents", ["cell"], unique=False)
    op.create_index(op.f("ix_incidents_county"), "incidents", ["county"], unique=False)
    op.create_index(
        "ix_incidents_status_category", "incidents", ["status", "category"], unique=False
    )
    op.create_index(op.f("ix_incidents_updated_at"), "incidents", ["updated_at"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "domains",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("revoked_at", infra.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency"], ["agencies.code"], name=op.f("fk_api_keys_agency_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_agency"), "api_keys", ["agency"], unique=False)
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("received_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("geometry", infra.db.geometry.GeometryColumn(), nullable=True),
        sa.Column("province", sa.String(length=12), nullable=True),
        sa.Column("city", sa.String(length=12), nullable=True),
        sa.Column("county", sa.String(length=12), nullable=True),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("agency", "source_id", name=op.f("uq_events_agency_source_id")),
    )
    op.create_index(op.f("ix_events_incident_id"), "events", ["incident_id"], unique=False)
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"], unique=False)
    op.create_table(
        "commands",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column(
            "command",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_commands_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
        sa.UniqueConstraint(
            "user", "idempotency_key", name=op.f("uq_commands_user_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_commands_incident_id"), "commands", ["incident_id"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "unit_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_tasks_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_agency"), "tasks", ["agency"], unique=False)
    op.create_index(op.f("ix_tasks_incident_id"), "tasks", ["incident_id"], unique=False)
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_secrets")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", infra.db.types.UtcDateTime(), nullable=False),
        sa.Column("disabled_at", infra.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency"], ["agencies.code"], name=op.f("fk_users_agency_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    if is_postgis:
        op.create_index("ix_events_geometry", "events", ["geometry"], postgresql_using="gist")
        op.create_index("ix_incidents_geometry", "incidents", ["geometry"], postgresql_using="gist")
    agencies = sa.table(
        "agencies",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("name_en", sa.String),
        sa.column("domains", sa.JSON),
    )
    op.bulk_insert(
        agencies,
        [
            {"code": a.code, "name": a.name, "name_en": a.name_en, "domains": list(a.domains)}
            for a in AGENCIES
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_commands_incident_id"), table_name="commands")
    op.drop_table("commands")
    op.drop_table("secrets")
    op.drop_table("users")
    op.drop_index(op.f("ix_tasks_incident_id"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_agency"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("ix_events_occurred_at", table_name="events")
    op.drop_index(op.f("ix_events_incident_id"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_api_keys_agency"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_incidents_updated_at"), table_name="incidents")
    op.drop_index("ix_incidents_status_category", table_name="incidents")
    op.drop_index(op.f("ix_incidents_county"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_cell"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_feed_receipts_processed_at"), table_name="feed_receipts")
    op.drop_table("feed_receipts")
    op.drop_index(op.f("ix_dead_letters_created_at"), table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index(op.f("ix_console_changes_entity_id"), table_name="console_changes")
    op.drop_table("console_changes")
    op.drop_table("agencies")
