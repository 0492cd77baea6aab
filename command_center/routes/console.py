"""``/ws/console``: the live feed of the operators' map, and the static console page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, WebSocket
from fastapi.responses import FileResponse, RedirectResponse

from command_center.auth import read_token
from command_center.console import ConsoleHub
from infra.errors import AuthenticationFailed

router = APIRouter(tags=["console"])
STATIC = Path(__file__).resolve().parent.parent / "static"
_POLICY_VIOLATION = 1008


def _token(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("token")
    if token:
        return token
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


@router.websocket("/ws/console")
async def console_socket(websocket: WebSocket) -> None:
    app = websocket.app
    try:
        secret: bytes | None = getattr(app.state, "signing_secret", None)
        if secret is None:
            from command_center.auth import signing_secret

            runtime = app.state.runtime
            with runtime.sessions() as session, session.begin():
                secret = signing_secret(session, runtime.settings.secret_key)
            app.state.signing_secret = secret
        read_token(_token(websocket), secret)
    except AuthenticationFailed as exc:
        # Refuse before accepting: the client sees an HTTP 403 on the handshake.
        await websocket.close(code=_POLICY_VIOLATION, reason=exc.message)
        return
    await websocket.accept()
    hub: ConsoleHub = app.state.console_hub
    await hub.serve(websocket)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/console/")


@router.get("/console/", include_in_schema=False)
def console_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
