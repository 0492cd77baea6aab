"""Dead letters: what passed intake but failed later in the pipeline, and putting it back.

Framework-free: the admin routes call these with a session and the runtime's bus.

Re-driving puts the record back on the raw topic, where it goes through the whole pipeline again
(after whatever was fixed: a rule, a CRS, geodata, or the record itself), and marks the dead
letter ``redriven_at``. It is idempotent: the mark is set by a conditional update inside the
same transaction that publishes, so two operators clicking at once publish once, and a bus
failure leaves the dead letter as it was (and the caller gets 503).

A record that fails again becomes a new dead letter with the new reason; the old one keeps the
history. An operator may send a corrected envelope with the re-drive, but never another agency,
event id or source id: who sent an event is not something an operator can change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from command_center.feeds import database_unavailable, partition_key
from infra.bus import Bus, BusRecord
from infra.db.models import DeadLetterRow
from infra.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from streams.domain import utcnow
from streams.envelope import EventEnvelope, RawRecord

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int

    def to_json(self) -> dict[str, Any]:
        following = self.offset + len(self.items)
        return {
            "items": self.items,
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "next_offset": following if following < self.total else None,
        }


def dead_letter_json(row: DeadLetterRow, *, with_record: bool = True) -> dict[str, Any]:
    record = row.record if isinstance(row.record, dict) else {}
    envelope = record.get("envelope") if isinstance(record.get("envelope"), dict) else {}
    body: dict[str, Any] = {
        "id": row.id,
        "stage": row.stage,
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
        "redriven_at": None if row.redriven_at is None else row.redriven_at.isoformat(),
        # Undecodable messages (``{"raw": ...}``) have none of these.
        "agency": record.get("agency"),
        "event_id": record.get("event_id"),
        "domain": record.get("domain"),
        "source_id": envelope.get("source_id") if envelope else None,
    }
    if with_record:
        body["record"] = row.record
    return body


def list_dead_letters(
    session: Session,
    *,
    stage: str | None = None,
    agency: str | None = None,
    redriven: bool | None = None,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> DeadLetterPage:
    """Newest first, filtered; ``redriven=False`` gives what still waits for an operator."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(
            f"limit is 1 to {MAX_PAGE}",
            details=[{"loc": ["query", "limit"], "msg": "out of range"}],
        )
    if offset < 0:
        raise ValidationFailed(
            "offset is 0 or more", details=[{"loc": ["query", "offset"], "msg": "out of range"}]
        )
    conditions: list[ColumnElement[bool]] = []
    if stage is not None:
        conditions.append(DeadLetterRow.stage == stage)
    if agency is not None:
        conditions.append(DeadLetterRow.record["agency"].as_string() == agency)
    if redriven is not None:
        column = DeadLetterRow.redriven_at
        conditions.append(column.is_not(None) if redriven else column.is_(None))
    if since is not None:
        conditions.append(DeadLetterRow.created_at >= since)
    total = session.scalar(select(func.count()).select_from(DeadLetterRow).where(*conditions))
    rows = session.scalars(
        select(DeadLetterRow)
        .where(*conditions)
        .order_by(DeadLetterRow.created_at.desc(), DeadLetterRow.id)
        .offset(offset)
        .limit(limit)
    )
    return DeadLetterPage([dead_letter_json(row) for row in rows], int(total or 0), offset, limit)


def get_dead_letter(session: Session, dead_letter_id: str) -> DeadLetterRow:
    row = session.get(DeadLetterRow, dead_letter_id)
    if row is None:
        raise NotFound(f"no dead letter {dead_letter_id!r}")
    return row


@dataclass(frozen=True, slots=True)
class Redrive:
    dead_letter: dict[str, Any]
    # False when it had been re-driven before: nothing was published this time.
    published: bool


def _message(record: dict[str, Any], envelope: dict[str, Any] | None) -> BusRecord:
    """The raw-topic message for a dead letter's record, with an operator's corrected envelope."""
    if envelope is None:
        if set(record) == {"raw"} and isinstance(record["raw"], str):
            # Undecodable as received: it goes back exactly as it came.
            return BusRecord(None, record["raw"].encode())
        try:
            raw = RawRecord.model_validate(record)
        except ValidationError:
            return BusRecord(None, json.dumps(record, ensure_ascii=False).encode())
        return BusRecord(partition_key(raw.agency, raw.envelope), raw.model_dump_json().encode())
    if "event_id" not in record or "agency" not in record:
        raise ValidationFailed(
            "this dead letter could not be decoded, so it names no agency; it cannot be "
            "corrected here: the agency has to send the event again",
            details=[{"loc": ["body", "envelope"], "msg": "not allowed for undecodable records"}],
        )
    original = record.get("envelope")
    if not isinstance(original, dict) or envelope.get("source_id") != original.get("source_id"):
        raise ValidationFailed(
            "a correction keeps the event's source_id (the agency's idempotency key)",
            details=[{"loc": ["body", "envelope", "source_id"], "msg": "must not change"}],
        )
    try:
        corrected = RawRecord.model_validate(
            {**record, "envelope": EventEnvelope.model_validate(envelope).model_dump()}
        )
    except ValidationError as exc:
        details = [
            {"loc": ["body", "envelope", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed("the corrected envelope is invalid", details=details) from None
    return BusRecord(
        partition_key(corrected.agency, corrected.envelope), corrected.model_dump_json().encode()
    )


async def redrive(
    sessions: sessionmaker[Session],
    bus: Bus,
    dead_letter_id: str,
    *,
    envelope: dict[str, Any] | None = None,
) -> Redrive:
    """Put a dead letter's record back on the raw topic (see the module doc)."""
    session = sessions()
    try:
        session.begin()
        row = await asyncio.to_thread(get_dead_letter, session, dead_letter_id)
        if row.redriven_at is not None:
            if envelope is not None:
                raise Conflict(
                    f"dead letter {dead_letter_id!r} was re-driven at "
                    f"{row.redriven_at.isoformat()}; correct the newer dead letter instead"
                )
            await asyncio.to_thread(session.rollback)
            return Redrive(dead_letter_json(row), published=False)
        message = _message(row.record, envelope)
        now = utcnow()
        claimed = await asyncio.to_thread(_claim, session, dead_letter_id, now)
        if not claimed:  # someone else re-drove it between our read and our update
            await asyncio.to_thread(session.rollback)
            again = await asyncio.to_thread(get_dead_letter, session, dead_letter_id)
            return Redrive(dead_letter_json(again), published=False)
        await bus.publish(bus.topics.raw, [message])
        await asyncio.to_thread(session.commit)
        return Redrive({**dead_letter_json(row), "redriven_at": now.isoformat()}, published=True)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(session.rollback)
        if isinstance(exc, Exception) and database_unavailable(exc):
            raise ServiceUnavailable(
                "the database is unavailable; nothing was re-driven, retry later", retry_after=5
            ) from None
        raise
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(session.close)


def _claim(session: Session, dead_letter_id: str, now: datetime) -> bool:
    result = session.execute(
        update(DeadLetterRow)
        .where(DeadLetterRow.id == dead_letter_id, DeadLetterRow.redriven_at.is_(None))
        .values(redriven_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
