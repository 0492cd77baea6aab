"""Operator commands on incidents: acknowledge, change status or level, add and update tasks.

Framework-free: the HTTP route parses and authorizes, this module validates and applies a command
in one transaction with optimistic concurrency, logs the console change and returns it for
publishing. ``Idempotency-Key`` makes a retried command a no-op that answers like the first.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.db.models import CommandRow, TaskRow
from infra.errors import Conflict, NotFound, ValidationFailed
from streams.domain import (
    AGENCY_CODES,
    Incident,
    IncidentStatus,
    Level,
    Task,
    TaskStatus,
    new_id,
    utcnow,
)
from streams.store import ConsoleChange, Store

# The lifecycle an incident may move through; closing is allowed from anywhere, reopening not.
_NEXT_STATUS: dict[IncidentStatus, set[IncidentStatus]] = {
    IncidentStatus.NEW: {IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESPONDING},
    IncidentStatus.ACKNOWLEDGED: {IncidentStatus.RESPONDING, IncidentStatus.CONTAINED},
    IncidentStatus.RESPONDING: {IncidentStatus.CONTAINED},
    IncidentStatus.CONTAINED: {IncidentStatus.RESPONDING},
    IncidentStatus.CLOSED: set(),
}


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = Field(
        default=None, ge=1, description="Refuse (409) if the incident has changed since."
    )
    note: str = Field(default="", max_length=2000)


class Acknowledge(_Command):
    command: Literal["acknowledge"]


class SetStatus(_Command):
    command: Literal["set_status"]
    status: IncidentStatus


class SetLevel(_Command):
    command: Literal["set_level"]
    level: Level
    reason: str = Field(min_length=1, max_length=2000)


class AddTask(_Command):
    command: Literal["add_task"]
    agency: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=500)


class UpdateTask(_Command):
    command: Literal["update_task"]
    task_id: str
    status: TaskStatus


IncidentCommand = Annotated[
    Acknowledge | SetStatus | SetLevel | AddTask | UpdateTask, Field(discriminator="command")
]
COMMAND = TypeAdapter(IncidentCommand)


def _transition(incident: Incident, status: IncidentStatus) -> Incident:
    if status is incident.status:
        return incident
    if status is not IncidentStatus.CLOSED and status not in _NEXT_STATUS[incident.status]:
        raise Conflict(f"an incident that is {incident.status} cannot become {status}")
    return replace(incident, status=status)


def _apply(incident: Incident, command: Any, who: str, now: datetime) -> tuple[Incident, str]:
    """The incident after ``command`` and a line for the explanation trail."""
    if isinstance(command, Acknowledge):
        if incident.status is not IncidentStatus.NEW:
            return incident, ""
        return _transition(incident, IncidentStatus.ACKNOWLEDGED), f"{who} acknowledged"
    if isinstance(command, SetStatus):
        return _transition(incident, command.status), f"{who} set status {command.status}"
    if isinstance(command, SetLevel):
        if incident.status is IncidentStatus.CLOSED:
            raise Conflict("a closed incident keeps its level")
        line = f"{who} set level {incident.level} → {command.level}: {command.reason}"
        return replace(incident, level=command.level), line
    if isinstance(command, AddTask):
        if command.agency not in AGENCY_CODES:
            raise ValidationFailed(
                f"unknown agency {command.agency!r}",
                details=[{"loc": ["agency"], "msg": "unknown agency"}],
            )
        task = Task(new_id(), incident.id, command.agency, command.action, created_at=now)
        line = f"{who} tasked {command.agency}: {command.action}"
        return replace(incident, tasks=(*incident.tasks, task)), line
    assert isinstance(command, UpdateTask)
    tasks = list(incident.tasks)
    for index, task in enumerate(tasks):
        if task.id == command.task_id:
            tasks[index] = replace(task, status=command.status)
            line = f"{who} marked {task.agency} task {command.status}"
            return replace(incident, tasks=tuple(tasks)), line
    raise NotFound(f"incident {incident.id} has no task {command.task_id!r}")


class CommandService:
    def __init__(self) -> None:
        self.store = Store()

    def execute(
        self,
        session: Session,
        incident_id: str,
        command: Any,
        *,
        user: str,
        idempotency_key: str | None,
    ) -> tuple[Incident, list[ConsoleChange]]:
        """Apply ``command`` in the caller's transaction; return the incident and its change."""
        if idempotency_key:
            done = session.scalar(
                select(CommandRow).where(
                    CommandRow.idempotency_key == idempotency_key, CommandRow.user == user
                )
            )
            if done is not None:
                if done.incident_id != incident_id:
                    raise Conflict("this Idempotency-Key was used for another incident")
                return self.store.get_incident(session, incident_id), []
        incident = self.store.get_incident(session, incident_id)
        if command.expected_version is not None and command.expected_version != incident.version:
            raise Conflict(
                f"incident is at version {incident.version}, not {command.expected_version}"
            )
        now = utcnow()
        changed, line = _apply(incident, command, user, now)
        session.add(
            CommandRow(
                id=new_id(),
                incident_id=incident_id,
                user=user,
                idempotency_key=idempotency_key,
                command=command.model_dump(mode="json"),
                created_at=now,
            )
        )
        if changed == incident:
            return incident, []
        note = f" ({command.note})" if command.note else ""
        changed = replace(
            changed,
            version=incident.version + 1,
            updated_at=now,
            explanation=f"{incident.explanation}\n{line}{note}".strip(),
        )
        self.store.save_incident(session, changed, previous_version=incident.version)
        new_tasks = [task for task in changed.tasks if task not in incident.tasks]
        for task in new_tasks:
            row = session.get(TaskRow, task.id)
            if row is None:
                session.add(
                    TaskRow(
                        id=task.id,
                        incident_id=task.incident_id,
                        agency=task.agency,
                        action=task.action,
                        status=task.status.value,
                        unit_ids=list(task.unit_ids),
                        created_at=task.created_at,
                    )
                )
            else:
                row.status = task.status.value
        return changed, self.store.log_changes(session, "incident", [changed.to_json()], now)
