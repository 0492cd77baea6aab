"""The FastAPI application: thin routes over a ``Runtime`` built once from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from command_center import errors
from command_center.auth import KeyCache
from command_center.console import ConsoleHub
from command_center.routes import admin, auth, console, feeds, geo, health, incidents
from command_center.routes.console import STATIC
from infra.runtime import Runtime
from streams.envelope import EventEnvelope

log = logging.getLogger(__name__)


def create_app(runtime: Runtime, *, run_pipeline: bool | None = None) -> FastAPI:
    """``run_pipeline`` defaults to the embedded runtime (the in-process bus has no workers)."""
    in_process = runtime.settings.is_embedded if run_pipeline is None else run_pipeline

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from streams.embedded import EmbeddedRunner

        await runtime.start()
        hub = ConsoleHub(runtime)
        await hub.start()
        app.state.console_hub = hub
        runner = EmbeddedRunner(runtime) if in_process else None
        if runner is not None:
            await runner.start()
        app.state.runner = runner
        try:
            yield
        finally:
            if runner is not None:
                await runner.stop()
            await hub.stop()
            await runtime.stop()

    app = FastAPI(
        title="Linkage 应急联动平台",
        version="0.1.0",
        description="Agency feeds in, unified incidents out, one coordinated response.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.key_cache = KeyCache()
    errors.install(app)
    for module in (feeds, auth, incidents, geo, health, console, admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    # The feed body is read by hand (size limit first), so its models are added here.
    envelope = EventEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(envelope.pop("$defs", {}))
    components["EventEnvelope"] = envelope
    app.openapi_schema = schema
    return schema
