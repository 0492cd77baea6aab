"""Incidents for the console and for agency liaisons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from command_center.deps import SessionDep, UserDep
from streams.store import Store

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
_store = Store()


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
