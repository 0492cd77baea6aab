"""``POST /api/v1/auth/token``: operators sign in with username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form

from command_center.auth import authenticate, issue_token
from command_center.deps import RuntimeDep, SecretDep, SessionDep

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", summary="Exchange username and password for a bearer token")
def token(
    runtime: RuntimeDep,
    session: SessionDep,
    secret: SecretDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
) -> dict[str, str | int]:
    user = authenticate(session, username, password)
    ttl = runtime.settings.token_ttl_seconds
    return {
        "access_token": issue_token(user, secret, ttl),
        "token_type": "bearer",
        "expires_in": ttl,
        "role": user.role.value,
    }
