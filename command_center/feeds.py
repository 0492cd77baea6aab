"""Feed intake: validate what an agency sent, record it in the ledger, put it on the bus.

An event is acknowledged only after both the ledger row and the bus accepted it; when the bus is
down the ledger insert is rolled back and the caller gets 503, so nothing is accepted and dropped.
A retry of the same (agency, source_id) is answered as a duplicate with the same event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from shapely.errors import ShapelyError
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from command_center.auth import AgencyPrincipal, create_key
from gis.crs import to_wgs84
from infra.bus import BusRecord
from infra.db.models import ApiKeyRow, FeedReceiptRow
from infra.db.upsert import insert_ignore
from infra.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from infra.runtime import Runtime
from streams.domain import Domain, event_id_for, utcnow
from streams.envelope import EventEnvelope, RawRecord
from streams.schemas import validate_data

log = logging.getLogger(__name__)

# Events about nearby places share a partition (and so a worker and an order); ~11 km cells.
_CELL_DEGREES = 0.1


@dataclass(frozen=True, slots=True)
class IntakeResult:
    accepted: int
    duplicates: int
    ids: list[str]
    # Items of a multi-event document (CAP, GeoJSON) refused one by one, with reasons.
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "ids": self.ids,
        }
        if self.rejected:
            body["rejected"] = self.rejected
        return body


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json_body(body: bytes) -> list[dict[str, Any]]:
    """One event object or an array of them; NaN/Infinity and runaway nesting are refused."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidInput("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValidationFailed("the batch is empty")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationFailed(
                "each event is a JSON object",
                details=[{"loc": [index], "msg": f"got {type(item).__name__}"}],
            )
    return items


@dataclass(frozen=True, slots=True)
class IntakeItem:
    """One event to accept: its domain, its envelope and, for XML feeds, the source document."""

    domain: Domain
    envelope: EventEnvelope
    original: str | None = None


def validate_envelopes(domain: Domain, items: Sequence[dict[str, Any]]) -> list[IntakeItem]:
    """Envelope and per-type ``data`` schema; all-or-nothing for JSON batches."""
    accepted: list[IntakeItem] = []
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            envelope = EventEnvelope.model_validate(item)
            check_coordinates(envelope)
            data = validate_data(domain, envelope.type, envelope.data)
            accepted.append(IntakeItem(domain, envelope.model_copy(update={"data": data})))
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                details.append(
                    {"loc": [index, *error["loc"]], "msg": error["msg"], "type": error["type"]}
                )
        except ValidationFailed as exc:
            details.extend({**d, "loc": [index, *d.get("loc", [])]} for d in exc.details)
    if details:
        bad = len({d["loc"][0] for d in details})
        first = details[0]
        where = f"[{first['loc'][0]}]" + "".join(f".{part}" for part in first["loc"][1:])
        raise ValidationFailed(
            f"{bad} of {len(items)} event(s) are invalid; nothing was accepted "
            f"(first: {where}: {first.get('msg', '')})",
            details=details[:100],
        )
    return accepted


def check_coordinates(envelope: EventEnvelope) -> None:
    """Refuse at the door what normalize could never place: unknown CRS, off-Earth results."""
    if envelope.geometry is None:
        return
    try:
        to_wgs84(shape(envelope.geometry.model_dump()), envelope.crs)
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.message, details=[{"loc": ["geometry"], "msg": exc.message}]
        ) from None
    except (ValueError, ShapelyError) as exc:
        message = f"geometry cannot be read: {exc}"
        raise ValidationFailed(message, details=[{"loc": ["geometry"], "msg": message}]) from None


def partition_key(agency: str, envelope: EventEnvelope) -> bytes:
    geometry = envelope.geometry
    if geometry is None:
        return agency.encode()
    first: Any = geometry.coordinates
    while isinstance(first, list) and first and isinstance(first[0], list):
        first = first[0]
    lon, lat = float(first[0]), float(first[1])
    return f"{math.floor(lon / _CELL_DEGREES)}:{math.floor(lat / _CELL_DEGREES)}".encode()


class FeedIntake:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def accept(
        self,
        principal: AgencyPrincipal,
        items: Sequence[IntakeItem],
        rejected: Sequence[dict[str, Any]] = (),
    ) -> IntakeResult:
        """Accept ``items``; each must lie in a domain the agency's key allows."""
        limit = self.runtime.settings.max_batch_events
        if len(items) > limit:
            raise PayloadTooLarge(f"{len(items)} events in one request; at most {limit}")
        allowed = sorted(d.value for d in principal.domains)
        refused = list(rejected)
        permitted: list[IntakeItem] = []
        for index, item in enumerate(items):
            if item.domain in principal.domains:
                permitted.append(item)
            else:
                refused.append(
                    {
                        "index": index,
                        "source_id": item.envelope.source_id,
                        "reason": f"maps to domain {item.domain.value!r}, which this key may "
                        f"not push into (allowed: {', '.join(allowed)})",
                    }
                )
        if items and not permitted:
            domains = sorted({item.domain.value for item in items})
            raise PermissionDenied(
                f"agency {principal.agency!r} may not push into {', '.join(domains)}; "
                f"this key allows: {', '.join(allowed)}"
            )
        received_at = utcnow()
        ids: list[str] = []
        records: dict[str, RawRecord] = {}
        for item in permitted:
            event_id = event_id_for(principal.agency, item.envelope.source_id)
            ids.append(event_id)
            records.setdefault(
                event_id,
                RawRecord(
                    event_id=event_id,
                    agency=principal.agency,
                    domain=item.domain,
                    received_at=received_at,
                    envelope=item.envelope,
                    original=item.original,
                ),
            )
        fresh = await self._record_and_publish(list(records.values()))
        fresh_ids = {record.event_id for record in fresh}
        metrics = self.runtime.metrics
        for event_id, item in zip(ids, permitted, strict=True):
            counter = metrics.events_in if event_id in fresh_ids else metrics.events_duplicate
            counter.labels(item.domain.value).inc()
            fresh_ids.discard(event_id)  # a repeat inside the batch is a duplicate
        return IntakeResult(len(fresh), len(ids) - len(fresh), ids, refused)

    async def _record_and_publish(self, records: list[RawRecord]) -> list[RawRecord]:
        session = self.runtime.sessions()
        try:
            session.begin()
            fresh_ids = set(await asyncio.to_thread(self._insert_receipts, session, records))
            fresh = [record for record in records if record.event_id in fresh_ids]
            if fresh:
                await self.runtime.bus.publish(
                    self.runtime.bus.topics.raw,
                    [
                        BusRecord(
                            partition_key(record.agency, record.envelope),
                            record.model_dump_json().encode(),
                        )
                        for record in fresh
                    ],
                )
            await asyncio.to_thread(session.commit)
            return fresh
        except BaseException as exc:
            # The connection may be the thing that broke: a failing rollback must not hide why.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(session.rollback)
            if isinstance(exc, Exception) and database_unavailable(exc):
                log.warning("intake ledger unavailable: %s", _first_line(exc))
                raise ServiceUnavailable(
                    "the intake ledger (database) is unavailable; nothing was accepted, "
                    "retry later",
                    retry_after=5,
                ) from None
            raise
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(session.close)

    @staticmethod
    def _insert_receipts(session: Session, records: list[RawRecord]) -> list[str]:
        rows = [
            {
                "event_id": record.event_id,
                "agency": record.agency,
                "source_id": record.envelope.source_id,
                "domain": record.domain.value,
                "received_at": record.received_at,
                "record": record.model_dump(mode="json"),
            }
            for record in records
        ]
        return insert_ignore(
            session,
            FeedReceiptRow.__table__,  # type: ignore[arg-type]
            rows,
            conflict=("agency", "source_id"),
            returning="event_id",
        )


def database_unavailable(exc: Exception) -> bool:
    """Whether ``exc`` means the database cannot be reached now (503), not a bug in a query."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- agency keys: listing and rotation (creation and verification live in auth) -------------


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
