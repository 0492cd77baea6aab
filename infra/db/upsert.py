"""Dialect-neutral bulk ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite both have it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    returning: str | None = None,
) -> list[Any]:
    """Insert ``rows``, skipping those that clash on ``conflict``; return the ``returning`` column
    of the rows actually inserted (in no particular order)."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    if returning is None:
        session.execute(statement, list(rows))
        return []
    statement = statement.returning(table.c[returning])
    # executemany with RETURNING is "insertmanyvalues" in SQLAlchemy 2: one round trip per page.
    result = session.execute(statement, list(rows))
    return list(result.scalars().all())
