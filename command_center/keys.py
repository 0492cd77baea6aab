"""Agency API keys as admins manage them: listing, immediate revocation, rotation with a grace
period. (Creating and verifying a key live in ``command_center.auth``.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.auth import create_key
from infra.db.models import ApiKeyRow
from infra.errors import Conflict, NotFound, ValidationFailed
from streams.domain import Domain, utcnow


def key_json(row: ApiKeyRow) -> dict[str, Any]:
    """A key as admins see it: never the key, only its id and prefix."""
    now = utcnow()
    if row.revoked_at is None:
        state = "active"
    elif row.revoked_at > now:
        state = "expiring"  # rotated, still honoured until revoked_at
    else:
        state = "revoked"
    return {
        "id": row.id,
        "agency": row.agency,
        "prefix": row.prefix,
        "domains": list(row.domains),
        "created_at": row.created_at.isoformat(),
        "revoked_at": None if row.revoked_at is None else row.revoked_at.isoformat(),
        "state": state,
    }


def list_keys(session: Session, agency: str | None = None) -> list[ApiKeyRow]:
    statement = select(ApiKeyRow).order_by(ApiKeyRow.agency, ApiKeyRow.created_at, ApiKeyRow.id)
    if agency is not None:
        statement = statement.where(ApiKeyRow.agency == agency)
    return list(session.scalars(statement))


def _key(session: Session, key_id: str) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    return row


def revoke_now(session: Session, key_id: str) -> ApiKeyRow:
    """Revoke at once, cutting short the grace period of a rotated key; idempotent."""
    row = _key(session, key_id)
    now = utcnow()
    if row.revoked_at is None or row.revoked_at > now:
        row.revoked_at = now
    return row


def rotate_key(
    session: Session, key_id: str, grace_seconds: int = 0
) -> tuple[str, ApiKeyRow, ApiKeyRow]:
    """A new key for the same agency and domains; the old one stops working after the grace
    period, so that an agency can deploy the new key without a gap. Returns (key, new, old)."""
    if grace_seconds < 0:
        raise ValidationFailed(
            "grace period must be zero or more seconds",
            details=[{"loc": ["grace_seconds"], "msg": "must be >= 0"}],
        )
    old = _key(session, key_id)
    now = utcnow()
    if old.revoked_at is not None and old.revoked_at <= now:
        raise Conflict(f"API key {key_id!r} is revoked; create a new key instead")
    key, new = create_key(session, old.agency, [Domain(d) for d in old.domains])
    expiry = now + timedelta(seconds=grace_seconds)
    # Rotating twice never lengthens the old key's life.
    old.revoked_at = expiry if old.revoked_at is None else min(old.revoked_at, expiry)
    session.flush()
    return key, new, old
