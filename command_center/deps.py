"""Dependencies of the HTTP routes, declared once here; routes stay thin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from command_center.auth import AgencyPrincipal, KeyCache, UserPrincipal, read_token, verify_key
from command_center.auth import signing_secret as _signing_secret
from infra.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A session whose transaction commits when the route returns, and rolls back on error."""
    with runtime.sessions() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _key_cache(request: Request) -> KeyCache:
    cache: KeyCache = request.app.state.key_cache
    return cache


def get_agency(
    request: Request,
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Header(description="The agency's API key")] = None,
) -> AgencyPrincipal:
    cache = _key_cache(request)
    if x_api_key:
        cached = cache.get(x_api_key)
        if cached is not None:
            return cached
    with runtime.sessions() as session:
        principal = verify_key(session, x_api_key)
    cache.put(x_api_key or "", principal)
    return principal


AgencyDep = Annotated[AgencyPrincipal, Depends(get_agency)]

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def signing_secret(request: Request, runtime: RuntimeDep) -> bytes:
    cached: bytes | None = getattr(request.app.state, "signing_secret", None)
    if cached is None:
        with runtime.sessions() as session, session.begin():
            cached = _signing_secret(session, runtime.settings.secret_key)
        request.app.state.signing_secret = cached
    return cached


SecretDep = Annotated[bytes, Depends(signing_secret)]


def get_user(secret: SecretDep, token: Annotated[str | None, Depends(oauth2)]) -> UserPrincipal:
    return read_token(token, secret)


UserDep = Annotated[UserPrincipal, Depends(get_user)]
