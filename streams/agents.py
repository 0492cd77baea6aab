"""faust agents: thin adapters that feed raw-topic batches to the framework-free pipeline.

One actor per worker; ``noack_take`` batches; each event is acked only after its batch is stored
and published, so a crash means redelivery (harmless: every write is idempotent), never loss.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import faust
from faust.streams import Stream

from infra.runtime import Runtime
from streams.app import StreamTopics
from streams.runner import BatchProcessor

log = logging.getLogger(__name__)


def register_agents(app: faust.App, topics: StreamTopics, runtime: Runtime) -> None:
    processor = BatchProcessor(runtime)
    started = asyncio.Lock()
    state = {"started": False}
    settings = runtime.streams

    async def ensure_started() -> None:
        async with started:
            if not state["started"]:
                await runtime.start()
                state["started"] = True

    @app.agent(topics.raw, name="linkage-pipeline", concurrency=1)
    async def pipeline(stream: faust.StreamT[Any]) -> None:
        await ensure_started()
        # noack_take lives on the concrete Stream, not on faust's StreamT protocol.
        batches = cast(Stream[Any], stream).noack_take(
            settings.batch_max, settings.batch_within_seconds
        )
        async for events in batches:
            await processor.handle([event.value for event in events])
            for event in events:
                await stream.ack(event)
