"""``/healthz`` (each backend's state) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from command_center.deps import RuntimeDep
from infra.bus.base import BackendHealth
from infra.db.models import FeedReceiptRow
from infra.runtime import Runtime

router = APIRouter(tags=["operations"])


def _database_health(runtime: Runtime) -> BackendHealth:
    kind = runtime.settings.storage_kind
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return BackendHealth(False, kind, type(exc).__name__)
    return BackendHealth(True, kind)


@router.get("/healthz", summary="Liveness and each backend's state")
async def healthz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    database, bus, pubsub = await asyncio.gather(
        asyncio.to_thread(_database_health, runtime), runtime.bus.health(), runtime.pubsub.health()
    )
    checks: dict[str, Any] = {
        "database": database.to_json(),
        "bus": bus.to_json(),
        "pubsub": pubsub.to_json(),
    }
    runner = getattr(request.app.state, "runner", None)
    if runner is not None:
        checks["pipeline"] = (await runner.health()).to_json()
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if ok else "degraded", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(runtime: RuntimeDep) -> Response:
    # Lag is read from the intake ledger, so every server reports the same truth in both
    # runtimes: accepted events the pipeline has not finished.
    with runtime.sessions() as session:
        unprocessed = session.scalar(
            select(func.count())
            .select_from(FeedReceiptRow)
            .where(FeedReceiptRow.processed_at.is_(None))
        )
    runtime.metrics.lag.set(unprocessed or 0)
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
