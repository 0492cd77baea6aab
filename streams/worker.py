"""`linkage worker`: build the runtime, register the agents, run faust's worker."""

from __future__ import annotations

import logging

from infra.errors import ConfigurationError
from infra.runtime import Runtime
from infra.settings import Settings, StreamSettings
from streams.agents import register_agents
from streams.app import make_app, make_topics


def run_worker(settings: Settings, streams: StreamSettings | None = None) -> None:
    from faust.worker import Worker

    if settings.bus_kind != "kafka":
        raise ConfigurationError(
            "`linkage worker` needs LINKAGE_BUS_URL=kafka://host:port; "
            "the embedded runtime runs its pipeline inside `linkage run`"
        )
    streams = streams or StreamSettings()
    runtime = Runtime.open(settings, streams)
    app = make_app(settings, streams)
    register_agents(app, make_topics(app, streams), runtime)
    if streams.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(
            streams.metrics_port, addr=settings.host, registry=runtime.metrics.registry
        )
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
    try:
        Worker(app, loglevel=level).execute_from_commandline()
    finally:
        runtime.close()
