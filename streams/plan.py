"""Plan: the graded response, as tasks for each agency.

When an incident opens or grows graver, every (agency, action) row the response plan lists up to
its level becomes a task, unless the incident already has that task.
"""

from __future__ import annotations

from dataclasses import replace

from streams.correlate import IncidentChange
from streams.domain import Task, new_id, utcnow
from streams.rules import Rules


def plan(changes: list[IncidentChange], rules: Rules) -> list[IncidentChange]:
    for change in changes:
        incident = change.incident
        have = {(task.agency, task.action) for task in incident.tasks}
        due = [row for row in rules.plan(incident.category, incident.level) if row not in have]
        if due:
            now = utcnow()
            new_tasks = tuple(
                Task(id=new_id(), incident_id=incident.id, agency=a, action=t, created_at=now)
                for a, t in due
            )
            change.incident = replace(incident, tasks=(*incident.tasks, *new_tasks))
    return changes
