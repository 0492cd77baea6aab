"""Store: the persistence stage, and the incident reads the API and console need.

One batch is one transaction: events, incidents, tasks, the console change log, dead letters and
the intake ledger's ``processed_at`` commit together, so a batch either happened or did not.
Every write is idempotent, so redelivery after a crash is harmless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from infra.db.models import (
    ConsoleChangeRow,
    DeadLetterRow,
    EventRow,
    FeedReceiptRow,
    IncidentRow,
    TaskRow,
)
from infra.db.upsert import insert_ignore
from infra.errors import Conflict, NotFound
from streams.correlate import Candidate, IncidentChange, cell_key, cell_of, cells_near
from streams.detect import Detection
from streams.domain import (
    Event,
    Incident,
    IncidentStatus,
    Jurisdiction,
    Level,
    Task,
    TaskStatus,
    new_id,
)
from streams.normalize import Rejected


@dataclass(frozen=True, slots=True)
class ConsoleChange:
    """One ordered delta for the console: ``seq`` is global and gap-free per database."""

    seq: int
    kind: str
    payload: dict[str, Any]

    def to_message(self) -> dict[str, Any]:
        return {"type": "delta", "seq": self.seq, "kind": self.kind, self.kind: self.payload}


def _incident_from_row(
    row: IncidentRow, event_ids: Sequence[str], tasks: Sequence[Task]
) -> Incident:
    return Incident(
        id=row.id,
        category=row.category,
        level=Level(row.level),
        status=IncidentStatus(row.status),
        geometry=row.geometry,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        title=row.title,
        event_ids=tuple(event_ids),
        tasks=tuple(tasks),
        jurisdiction=Jurisdiction(row.province, row.city, row.county),
        explanation=row.explanation,
        version=row.version,
    )


def _task_from_row(row: TaskRow) -> Task:
    return Task(
        id=row.id,
        incident_id=row.incident_id,
        agency=row.agency,
        action=row.action,
        status=TaskStatus(row.status),
        unit_ids=tuple(row.unit_ids),
        created_at=row.created_at,
    )


def _bounds(incident: Incident) -> dict[str, float | None]:
    if incident.geometry is None or incident.geometry.is_empty:
        return {"min_lon": None, "min_lat": None, "max_lon": None, "max_lat": None}
    min_lon, min_lat, max_lon, max_lat = incident.geometry.bounds
    return {"min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat}


def _incident_values(incident: Incident) -> dict[str, Any]:
    centre = incident.centroid
    return {
        "cell": None if centre is None else cell_key(cell_of(*centre)),
        "category": incident.category,
        "level": incident.level.value,
        "status": incident.status.value,
        "title": incident.title,
        "geometry": incident.geometry,
        "opened_at": incident.opened_at,
        "updated_at": incident.updated_at,
        "province": incident.jurisdiction.province,
        "city": incident.jurisdiction.city,
        "county": incident.jurisdiction.county,
        "explanation": incident.explanation,
        "version": incident.version,
        **_bounds(incident),
    }


def _later_of(
    session: Session, column: InstrumentedAttribute[datetime], value: datetime
) -> ColumnElement[datetime]:
    if session.get_bind().dialect.name == "sqlite":
        return func.max(column, value)  # SQLite's two-argument max() is a scalar function
    return func.greatest(column, value)


def load_incidents(session: Session, rows: Sequence[IncidentRow]) -> list[Incident]:
    """Incidents with their events and tasks, in three queries whatever the count."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    events: dict[str, list[str]] = defaultdict(list)
    for incident_id, event_id in session.execute(
        select(EventRow.incident_id, EventRow.id)
        .where(EventRow.incident_id.in_(ids))
        .order_by(EventRow.occurred_at, EventRow.id)
    ):
        if incident_id is not None:
            events[incident_id].append(event_id)
    tasks: dict[str, list[Task]] = defaultdict(list)
    for task_row in session.scalars(
        select(TaskRow).where(TaskRow.incident_id.in_(ids)).order_by(TaskRow.created_at)
    ):
        tasks[task_row.incident_id].append(_task_from_row(task_row))
    return [_incident_from_row(row, events[row.id], tasks[row.id]) for row in rows]


class Store:
    def already_stored(self, session: Session, event_ids: Iterable[str]) -> set[str]:
        ids = list(event_ids)
        if not ids:
            return set()
        return set(session.scalars(select(EventRow.id).where(EventRow.id.in_(ids))))

    def candidates(
        self,
        session: Session,
        detections: Sequence[Detection],
        *,
        radius_m: float,
        window: timedelta,
    ) -> list[Candidate]:
        """Open incidents that any detection of this batch might join: one query over the grid
        cells the detections can reach. They come without event ids and tasks (``complete``)."""
        if not detections:
            return []
        cells: set[str] = set()
        for detection in detections:
            geometry = detection.event.geometry
            assert geometry is not None
            centre = geometry if geometry.geom_type == "Point" else geometry.centroid
            cells.update(cell_key(c) for c in cells_near(centre.x, centre.y, radius_m))
        earliest = min(d.event.occurred_at for d in detections) - window
        statement = select(IncidentRow).where(
            IncidentRow.cell.in_(sorted(cells)),
            IncidentRow.status != IncidentStatus.CLOSED.value,
            IncidentRow.category.in_({d.category for d in detections}),
            IncidentRow.last_event_at >= earliest,
        )
        return [
            Candidate(_incident_from_row(row, (), ()), row.last_event_at)
            for row in session.scalars(statement)
        ]

    def complete(self, session: Session, changes: Sequence[IncidentChange]) -> None:
        """Give the stored incidents a batch touched their earlier event ids and tasks."""
        partial = {change.incident.id: change for change in changes if change.partial}
        if not partial:
            return
        rows = list(session.scalars(select(IncidentRow).where(IncidentRow.id.in_(list(partial)))))
        for stored in load_incidents(session, rows):
            change = partial[stored.id]
            change.incident = replace(
                change.incident,
                event_ids=(*stored.event_ids, *change.incident.event_ids),
                tasks=(*stored.tasks, *change.incident.tasks),
            )
            change.partial = False

    def save_batch(
        self,
        session: Session,
        *,
        events: Sequence[Event],
        changes: Sequence[IncidentChange],
        rejected: Sequence[Rejected],
        processed_event_ids: Sequence[str],
        now: datetime,
    ) -> list[ConsoleChange]:
        incident_of = {
            event_id: change.incident.id
            for change in changes
            for event_id in change.added_event_ids
        }
        self._write_incidents(session, changes)
        insert_ignore(
            session,
            EventRow.__table__,  # type: ignore[arg-type]
            [self._event_values(event, incident_of.get(event.id)) for event in events],
            conflict=("agency", "source_id"),
        )
        self._write_tasks(session, changes)
        self._write_dead_letters(session, rejected, now)
        if processed_event_ids:
            session.execute(
                update(FeedReceiptRow)
                .where(FeedReceiptRow.event_id.in_(list(processed_event_ids)))
                .where(FeedReceiptRow.processed_at.is_(None))
                .values(processed_at=now)
            )
        return self.log_changes(
            session, "incident", [change.incident.to_json() for change in changes], now
        )

    def log_changes(
        self, session: Session, kind: str, payloads: Sequence[dict[str, Any]], now: datetime
    ) -> list[ConsoleChange]:
        if not payloads:
            return []
        rows = [
            {
                "kind": kind,
                "entity_id": payload["id"],
                "version": payload.get("version", 0),
                "payload": payload,
                "created_at": now,
            }
            for payload in payloads
        ]
        # One statement for the batch; the database assigns the global order (seq).
        seqs = session.scalars(
            insert(ConsoleChangeRow).returning(ConsoleChangeRow.seq, sort_by_parameter_order=True),
            rows,
        ).all()
        return [
            ConsoleChange(seq, kind, payload) for seq, payload in zip(seqs, payloads, strict=True)
        ]

    @staticmethod
    def _event_values(event: Event, incident_id: str | None) -> dict[str, Any]:
        return {
            "id": event.id,
            "agency": event.agency,
            "source_id": event.source_id,
            "domain": event.domain.value,
            "type": event.type,
            "occurred_at": event.occurred_at,
            "received_at": event.received_at,
            "severity": None if event.severity is None else event.severity.value,
            "attributes": event.attributes,
            "geometry": event.geometry,
            "province": event.jurisdiction.province,
            "city": event.jurisdiction.city,
            "county": event.jurisdiction.county,
            "incident_id": incident_id,
        }

    def _write_incidents(self, session: Session, changes: Sequence[IncidentChange]) -> None:
        created = [
            {
                "id": change.incident.id,
                "last_event_at": change.last_event_at or change.incident.updated_at,
                **_incident_values(change.incident),
            }
            for change in changes
            if change.created
        ]
        if created:
            session.execute(insert(IncidentRow), created)  # one executemany for the batch
        for change in changes:
            if not change.created:
                # An operator command may have changed the incident since we read it; then
                # save_incident raises Conflict and the whole batch is retried on fresh state.
                self.save_incident(
                    session,
                    change.incident,
                    previous_version=change.incident.version - 1,
                    last_event_at=change.last_event_at,
                )
        session.flush()

    def save_incident(
        self,
        session: Session,
        incident: Incident,
        *,
        previous_version: int,
        last_event_at: datetime | None = None,
    ) -> None:
        """Write ``incident`` over the stored one, only if that is still ``previous_version``."""
        values = _incident_values(incident)
        if last_event_at is not None:
            values["last_event_at"] = _later_of(session, IncidentRow.last_event_at, last_event_at)
        result = session.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident.id)
            .where(IncidentRow.version == previous_version)
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"incident {incident.id} changed concurrently; retry")

    def _write_tasks(self, session: Session, changes: Sequence[IncidentChange]) -> None:
        rows = [
            {
                "id": task.id,
                "incident_id": task.incident_id,
                "agency": task.agency,
                "action": task.action,
                "status": task.status.value,
                "unit_ids": list(task.unit_ids),
                "created_at": task.created_at,
            }
            for change in changes
            for task in change.incident.tasks
        ]
        insert_ignore(session, TaskRow.__table__, rows, conflict=("id",))  # type: ignore[arg-type]

    def _write_dead_letters(
        self, session: Session, rejected: Sequence[Rejected], now: datetime
    ) -> None:
        rows = [
            {
                "id": new_id(),
                "stage": r.stage,
                "reason": r.reason,
                "record": r.record,
                "created_at": now,
            }
            for r in rejected
        ]
        insert_ignore(session, DeadLetterRow.__table__, rows, conflict=("id",))  # type: ignore[arg-type]

    # --- reads for the API and the console -------------------------------------------------

    def list_incidents(
        self, session: Session, *, include_closed: bool = False, limit: int = 500
    ) -> list[Incident]:
        statement = select(IncidentRow).order_by(IncidentRow.updated_at.desc()).limit(limit)
        if not include_closed:
            statement = statement.where(IncidentRow.status != IncidentStatus.CLOSED.value)
        return load_incidents(session, list(session.scalars(statement)))

    def get_incident(self, session: Session, incident_id: str) -> Incident:
        row = session.get(IncidentRow, incident_id)
        if row is None:
            raise NotFound(f"no incident {incident_id!r}")
        return load_incidents(session, [row])[0]

    def last_seq(self, session: Session) -> int:
        return int(session.scalar(select(func.coalesce(func.max(ConsoleChangeRow.seq), 0))) or 0)

    def changes_since(self, session: Session, seq: int, limit: int = 10_000) -> list[ConsoleChange]:
        rows = session.scalars(
            select(ConsoleChangeRow)
            .where(ConsoleChangeRow.seq > seq)
            .order_by(ConsoleChangeRow.seq)
            .limit(limit)
        )
        return [ConsoleChange(row.seq, row.kind, row.payload) for row in rows]
