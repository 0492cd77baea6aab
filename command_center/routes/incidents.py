"""Incidents for the console and for agency liaisons, and the operators' commands on them."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query

from command_center.auth import Role, UserPrincipal
from command_center.deps import RuntimeDep, SessionDep, UserDep
from infra.bus import BusRecord
from infra.errors import PermissionDenied
from infra.runtime import Runtime
from streams.commands import Acknowledge, CommandService, IncidentCommand, UpdateTask
from streams.domain import Incident
from streams.publish import CONSOLE_CHANNEL
from streams.store import ConsoleChange, Store

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
_store = Store()
_commands = CommandService()


@router.get("", summary="Open incidents, most recently updated first")
def list_incidents(
    session: SessionDep,
    _user: UserDep,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, list[dict[str, Any]]]:
    incidents = _store.list_incidents(session, include_closed=include_closed, limit=limit)
    return {"items": [incident.to_json() for incident in incidents]}


@router.get("/{incident_id}", summary="One incident with its events and tasks")
def get_incident(session: SessionDep, _user: UserDep, incident_id: str) -> dict[str, Any]:
    return _store.get_incident(session, incident_id).to_json()


def _authorize(user: UserPrincipal, command: Any, incident: Incident) -> None:
    """Commanders and operators command; duty staff acknowledge; liaisons work their tasks."""
    if user.role in (Role.ADMIN, Role.COMMANDER, Role.OPERATOR):
        return
    if user.role is Role.DUTY and isinstance(command, Acknowledge):
        return
    if user.role is Role.LIAISON and isinstance(command, UpdateTask):
        task = next((t for t in incident.tasks if t.id == command.task_id), None)
        if task is None or task.agency == user.agency:
            return
    raise PermissionDenied(f"a {user.role} may not {command.command} here")


def _execute(
    runtime: Runtime, user: UserPrincipal, incident_id: str, command: Any, key: str | None
) -> tuple[Incident, list[ConsoleChange]]:
    with runtime.sessions() as session, session.begin():
        _authorize(user, command, _store.get_incident(session, incident_id))
        return _commands.execute(
            session, incident_id, command, user=user.username, idempotency_key=key
        )


@router.post(
    "/{incident_id}/commands",
    summary="Acknowledge, change status or level, add or update tasks",
    responses={
        403: {"description": "The role may not issue this command"},
        404: {"description": "No such incident or task"},
        409: {"description": "expected_version is stale, or the status change is not allowed"},
        422: {"description": "Invalid command"},
    },
)
async def command_incident(
    runtime: RuntimeDep,
    user: UserDep,
    incident_id: str,
    command: Annotated[IncidentCommand, Body()],
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="Makes a retried command a no-op")
    ] = None,
) -> dict[str, Any]:
    incident, changes = await asyncio.to_thread(
        _execute, runtime, user, incident_id, command, idempotency_key
    )
    if changes:
        await runtime.pubsub.publish(CONSOLE_CHANNEL, [c.to_message() for c in changes])
        # The command also goes back into the stream, for consumers such as alerting.
        record = {"incident_id": incident_id, "user": user.username, **command.model_dump()}
        await runtime.bus.publish(
            runtime.bus.topics.commands,
            [BusRecord(incident_id.encode(), json.dumps(record, ensure_ascii=False).encode())],
        )
    return incident.to_json()
