"""Administration of feeds: agency API keys (admins) and dead letters (command-centre staff)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from command_center.auth import Role, UserPrincipal, create_key, parse_domains
from command_center.deadletters import dead_letter_json, get_dead_letter, list_dead_letters, redrive
from command_center.deps import RuntimeDep, UserDep
from command_center.keys import key_json, list_keys, revoke_now, rotate_key
from infra.errors import PermissionDenied

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

# A rotated key may stay valid for at most a month: long enough to roll out, short enough to end.
MAX_GRACE_SECONDS = 30 * 24 * 3600


def require(*roles: Role) -> Callable[[UserPrincipal], UserPrincipal]:
    def check(user: UserDep) -> UserPrincipal:
        if user.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise PermissionDenied(f"role {user.role.value!r} may not do this; roles: {allowed}")
        return user

    return check


AdminDep = Annotated[UserPrincipal, Depends(require(Role.ADMIN))]
StaffDep = Annotated[UserPrincipal, Depends(require(Role.ADMIN, Role.COMMANDER, Role.OPERATOR))]


class NewKey(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"agency": "water", "domains": ["flood", "warning"]}]},
    )

    agency: str = Field(min_length=1, max_length=64, description="Agency code, e.g. `water`.")
    domains: list[str] | None = Field(
        default=None, description="Feed domains the key may push into; default the agency's."
    )


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="How long the old key keeps working, so the agency can switch without a gap.",
    )


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    envelope: dict[str, Any] | None = Field(
        default=None,
        description="A corrected event envelope (same source_id) to re-drive instead of the "
        "stored one.",
    )


@router.get("/keys", summary="List agency API keys (never the keys themselves)")
def get_keys(
    runtime: RuntimeDep,
    _admin: AdminDep,
    agency: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    with runtime.sessions() as session:
        return {"items": [key_json(row) for row in list_keys(session, agency)]}


@router.post("/keys", status_code=201, summary="Create an API key; it is shown only in this answer")
def post_key(runtime: RuntimeDep, _admin: AdminDep, new: NewKey) -> JSONResponse:
    domains = parse_domains(",".join(new.domains)) if new.domains else None
    with runtime.sessions() as session, session.begin():
        key, row = create_key(session, new.agency, domains)
        session.flush()
        body = {"key": key, **key_json(row)}
    return JSONResponse(body, status_code=201)


@router.post("/keys/{key_id}/revoke", summary="Revoke a key now (all servers within 10 s)")
def post_revoke(runtime: RuntimeDep, _admin: AdminDep, key_id: str) -> dict[str, Any]:
    with runtime.sessions() as session, session.begin():
        return key_json(revoke_now(session, key_id))


@router.post(
    "/keys/{key_id}/rotate",
    status_code=201,
    summary="Replace a key: a new one now, the old one revoked after the grace period",
)
def post_rotate(
    runtime: RuntimeDep,
    _admin: AdminDep,
    key_id: str,
    rotation: Annotated[Rotation | None, Body()] = None,
) -> JSONResponse:
    grace = rotation.grace_seconds if rotation is not None else 0
    with runtime.sessions() as session, session.begin():
        key, new, old = rotate_key(session, key_id, grace)
        body = {"key": key, **key_json(new), "replaces": key_json(old)}
    return JSONResponse(body, status_code=201)


@router.get("/dead-letters", summary="Events that passed intake but failed later, newest first")
def get_dead_letters(
    runtime: RuntimeDep,
    _staff: StaffDep,
    stage: Annotated[str | None, Query(max_length=32, description="decode, normalize, …")] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    redriven: Annotated[
        bool | None, Query(description="false: still waiting; true: already re-driven")
    ] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    when: datetime | None = since
    with runtime.sessions() as session:
        page = list_dead_letters(
            session,
            stage=stage,
            agency=agency,
            redriven=redriven,
            since=when,
            offset=offset,
            limit=limit,
        )
    return page.to_json()


@router.get("/dead-letters/{dead_letter_id}", summary="One dead letter with its record")
def get_one_dead_letter(
    runtime: RuntimeDep, _staff: StaffDep, dead_letter_id: str
) -> dict[str, Any]:
    with runtime.sessions() as session:
        return dead_letter_json(get_dead_letter(session, dead_letter_id))


@router.post(
    "/dead-letters/{dead_letter_id}/redrive",
    summary="Put a dead letter back on the raw topic (idempotent), optionally corrected",
    responses={503: {"description": "The bus is unavailable; nothing changed"}},
)
async def post_redrive(
    runtime: RuntimeDep,
    _staff: StaffDep,
    dead_letter_id: str,
    correction: Annotated[Correction | None, Body()] = None,
) -> dict[str, Any]:
    envelope = correction.envelope if correction is not None else None
    outcome = await redrive(runtime.sessions, runtime.bus, dead_letter_id, envelope=envelope)
    return {"published": outcome.published, "dead_letter": outcome.dead_letter}
