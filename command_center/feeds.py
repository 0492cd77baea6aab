"""Feed intake: record validated events in the ledger and put them on the bus.

An event is acknowledged only after both the ledger row and the bus accepted it; when the bus or
the database is down the ledger insert is rolled back and the caller gets 503, so nothing is
accepted and dropped. A retry of the same (agency, source_id) is answered as a duplicate with the
same event id. (Reading and validating request bodies is the route's: ``routes/feeds.py``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from command_center.auth import AgencyPrincipal
from infra.bus import BusRecord
from infra.db.models import FeedReceiptRow
from infra.errors import (
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
)
from infra.runtime import Runtime
from streams.domain import EVENT_NAMESPACE, SCHEMA_VERSION, Domain, utcnow
from streams.envelope import EventEnvelope

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


def partition_key(agency: str, envelope: EventEnvelope) -> bytes:
    geometry = envelope.geometry
    if geometry is None:
        return agency.encode()
    first: Any = geometry.coordinates
    while isinstance(first, list) and first and isinstance(first[0], list):
        first = first[0]
    lon, lat = float(first[0]), float(first[1])
    return f"{math.floor(lon / _CELL_DEGREES)}:{math.floor(lat / _CELL_DEGREES)}".encode()


@dataclass(frozen=True, slots=True)
class IntakeItem:
    """One event to accept: its domain, its envelope and, for XML feeds, the source document."""

    domain: Domain
    envelope: EventEnvelope
    original: str | None = None


_NAMESPACE = EVENT_NAMESPACE.bytes


def fast_event_id(agency: str, source_id: str) -> str:
    """``streams.domain.event_id_for`` (a UUID 5) without building ``uuid.UUID`` objects, which
    cost more than the hash itself at thousands of events per second; same result."""
    digest = bytearray(hashlib.sha1(_NAMESPACE + f"{agency}\x1f{source_id}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class Receipt:
    """An accepted event as the ledger and the raw topic get it. ``text`` is its
    ``streams.envelope.RawRecord`` JSON, made once here and used by both."""

    event_id: str
    agency: str
    source_id: str
    domain: Domain
    received_at: datetime
    key: bytes
    text: str

    @classmethod
    def of(cls, event_id: str, agency: str, item: IntakeItem, received_at: datetime) -> Receipt:
        # Assembled around the envelope's own JSON rather than through a RawRecord model: at
        # thousands of events per second, building and dumping that model per event costs more
        # than validating the envelope did. tests/feeds/test_intake_records.py holds the two to
        # the same result.
        original = "null" if item.original is None else json.dumps(item.original)
        text = (
            f'{{"v":{SCHEMA_VERSION},"event_id":"{event_id}","agency":{_json_text(agency)},'
            f'"domain":"{item.domain.value}","received_at":"{_iso(received_at)}",'
            f'"envelope":{_envelope_json(item.envelope)},"original":{original}}}'
        )
        key = partition_key(agency, item.envelope)
        return cls(event_id, agency, item.envelope.source_id, item.domain, received_at, key, text)


def _envelope_json(envelope: EventEnvelope) -> str:
    # The model's serializer called directly: the same bytes as model_dump_json() without its
    # per-call argument handling (0.9 µs instead of 1.7 µs per event, measured).
    return envelope.__pydantic_serializer__.to_json(envelope).decode()


@functools.lru_cache(maxsize=256)
def _json_text(value: str) -> str:
    return json.dumps(value)


@functools.lru_cache(maxsize=64)
def _iso(moment: datetime) -> str:
    """As pydantic writes an aware datetime (UTC as ``Z``)."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(slots=True)
class _Pending:
    """One request's records waiting for the ledger writer; ``done`` gets the ids it inserted."""

    records: list[Receipt]
    done: asyncio.Future[set[str]]


class LedgerWriter:
    """Group commit: the records of every request waiting at a moment go into one transaction and
    one publish, then each request learns which of its events were new.

    Why: a transaction stays open while the bus acknowledges its records (that is what makes a
    202 mean "durably on the bus"), SQLite admits one writer at a time and makes the others poll
    with sleeps, and each Kafka acknowledgement costs a linger and a round trip. Sharing one
    transaction and one publish among concurrent requests pays those once per group instead of
    once per request, which is what lets single-event POSTs scale.
    """

    def __init__(self, runtime: Runtime, max_rows: int) -> None:
        self.runtime = runtime
        self.max_rows = max_rows
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, records: list[Receipt]) -> set[str]:
        loop = asyncio.get_running_loop()
        # A writer per event loop: an app served again (tests) gets a fresh one.
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run(self._queue), name="intake-ledger")
        assert self._queue is not None
        pending = _Pending(records, loop.create_future())
        self._queue.put_nowait(pending)
        return await pending.done

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            group = [await queue.get()]
            rows = len(group[0].records)
            while not queue.empty() and rows < self.max_rows:
                group.append(queue.get_nowait())
                rows += len(group[-1].records)
            try:
                inserted = await self._record_and_publish([r for p in group for r in p.records])
            except BaseException as exc:
                failure = (
                    exc
                    if isinstance(exc, Exception)
                    else ServiceUnavailable(
                        "the server is shutting down; nothing was accepted, retry", retry_after=1
                    )
                )
                for pending in group:
                    if not pending.done.done():
                        pending.done.set_exception(failure)
                if not isinstance(exc, Exception):
                    raise
                continue
            claimed: set[str] = set()
            for pending in group:
                # The same event in two requests of one group is new for the first one only.
                mine = {r.event_id for r in pending.records if r.event_id in inserted} - claimed
                claimed |= mine
                if not pending.done.done():  # its caller may have gone away; it is accepted
                    pending.done.set_result(mine)

    async def _record_and_publish(self, records: list[Receipt]) -> set[str]:
        unique = list({record.event_id: record for record in records}.values())
        session = self.runtime.sessions()
        try:
            session.begin()
            inserted = set(await asyncio.to_thread(_insert_receipts, session, unique))
            fresh = [record for record in unique if record.event_id in inserted]
            if fresh:
                await self.runtime.bus.publish(
                    self.runtime.bus.topics.raw,
                    [BusRecord(record.key, record.text.encode()) for record in fresh],
                )
            await asyncio.to_thread(_commit_and_close, session)
            return inserted
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


def _commit_and_close(session: Session) -> None:
    """One trip to a worker thread for both (closing twice later is harmless)."""
    session.commit()
    session.close()


def _insert_receipts(session: Session, records: list[Receipt]) -> list[str]:
    """Insert ledger rows, skipping (agency, source_id) already there; returns the new ids. The
    record goes in as the JSON text already made for the bus: serialized once, not twice."""
    if not records:
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _insert_sqlite(session, records)
    statement = (
        postgresql.insert(FeedReceiptRow)
        .values(record=cast(bindparam("record", type_=Text), JSONB))
        .on_conflict_do_nothing(index_elements=["agency", "source_id"])
        .returning(FeedReceiptRow.event_id)
    )
    rows = [
        {
            "event_id": record.event_id,
            "agency": record.agency,
            "source_id": record.source_id,
            "domain": record.domain.value,
            "received_at": record.received_at,
            "record": record.text,
        }
        for record in records
    ]
    return list(session.execute(statement, rows).scalars().all())


# Rows per statement: 6 parameters each stays far below SQLite's 32,766-parameter limit.
_SQLITE_PAGE = 1000


def _insert_sqlite(session: Session, records: list[Receipt]) -> list[str]:
    """The same insert as one multi-row statement on the DBAPI cursor. SQLAlchemy's per-row
    parameter processing cost as much CPU as SQLite's own work here; the time column is still
    written by the column type's own bind processor, so stored values are exactly the ORM's."""
    dialect = session.get_bind().dialect
    column = FeedReceiptRow.__table__.c.received_at
    to_db = column.type.dialect_impl(dialect).bind_processor(dialect)
    stamps: dict[datetime, Any] = {}
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    inserted: list[str] = []
    try:
        for start in range(0, len(records), _SQLITE_PAGE):
            page = records[start : start + _SQLITE_PAGE]
            parameters: list[Any] = []
            for record in page:
                stamp = stamps.get(record.received_at)
                if stamp is None:
                    raw = record.received_at
                    stamp = stamps[raw] = to_db(raw) if to_db is not None else raw
                parameters += (
                    record.event_id,
                    record.agency,
                    record.source_id,
                    record.domain.value,
                    stamp,
                    record.text,
                )
            cursor.execute(
                "INSERT INTO feed_receipts (event_id, agency, source_id, domain, received_at, "
                "record) VALUES " + ",".join(["(?,?,?,?,?,?)"] * len(page)) + " "
                "ON CONFLICT (agency, source_id) DO NOTHING RETURNING event_id",
                parameters,
            )
            inserted += [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()
    return inserted


class FeedIntake:
    """Accepts agency events: permissions per item, ids, ledger and bus through the writer."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.writer = LedgerWriter(runtime, max_rows=max(runtime.settings.max_batch_events, 500))

    async def close(self) -> None:
        await self.writer.close()

    async def accept(
        self,
        principal: AgencyPrincipal,
        items: Sequence[IntakeItem],
        rejected: Sequence[dict[str, Any]] = (),
    ) -> IntakeResult:
        """Accept ``items``; each must lie in a domain the agency's key allows."""
        limit = self.runtime.settings.max_batch_events
        if len(items) > limit:
            raise PayloadTooLarge(
                f"{len(items)} events in one request; at most {limit}",
                details=[{"loc": ["body"], "msg": f"at most {limit} events per request"}],
            )
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
        records: dict[str, Receipt] = {}
        for item in permitted:
            event_id = fast_event_id(principal.agency, item.envelope.source_id)
            ids.append(event_id)
            if event_id not in records:
                records[event_id] = Receipt.of(event_id, principal.agency, item, received_at)
        fresh_ids = await self.writer.write(list(records.values()))
        accepted = len(fresh_ids)
        counts: dict[tuple[bool, str], int] = {}
        for event_id, item in zip(ids, permitted, strict=True):
            fresh = event_id in fresh_ids
            fresh_ids.discard(event_id)  # a repeat inside the batch is a duplicate
            counts[fresh, item.domain.value] = counts.get((fresh, item.domain.value), 0) + 1
        metrics = self.runtime.metrics
        for (fresh, domain), count in counts.items():  # one labelled update per domain
            (metrics.events_in if fresh else metrics.events_duplicate).labels(domain).inc(count)
        return IntakeResult(accepted, len(ids) - accepted, ids, refused)


def database_unavailable(exc: Exception) -> bool:
    """Whether ``exc`` means the database cannot be reached now (503), not a bug in a query."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
