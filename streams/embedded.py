"""The embedded runtime's stream runner: the pipeline over the in-process bus.

At start it re-drives whatever the intake ledger accepted but the pipeline never finished (the
process may have stopped in between): that is what makes the memory bus safe to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select

from infra.aio import cancel_and_wait
from infra.bus.base import BackendHealth
from infra.db.models import FeedReceiptRow
from infra.runtime import Runtime
from streams.runner import BatchProcessor

log = logging.getLogger(__name__)
_REDRIVE_PAGE = 1000


class EmbeddedRunner:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.processor = BatchProcessor(runtime)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.redrive()
        ready = asyncio.Event()
        task = asyncio.create_task(self._run(ready), name="embedded-stream")
        self._task = task
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():  # it died before subscribing: say why instead of hanging
            waiting.cancel()
            task.result()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def redrive(self) -> int:
        """Process accepted-but-unprocessed ledger rows, oldest first. Returns how many."""
        total = 0
        previous: list[bytes] = []
        while True:
            values = await asyncio.to_thread(self._unprocessed_page)
            if not values:
                break
            if values == previous:
                log.error("re-drive made no progress (database writes failing?); giving up")
                break
            previous = values
            await self.processor.handle(values)
            total += len(values)
        if total:
            log.info("re-drove %d accepted events left unprocessed by an earlier run", total)
        return total

    def _unprocessed_page(self) -> list[bytes]:
        import json

        with self.runtime.sessions() as session:
            rows = session.scalars(
                select(FeedReceiptRow.record)
                .where(FeedReceiptRow.processed_at.is_(None))
                .order_by(FeedReceiptRow.received_at)
                .limit(_REDRIVE_PAGE)
            )
            return [json.dumps(record, ensure_ascii=False).encode() for record in rows]

    async def _run(self, ready: asyncio.Event) -> None:
        bus = self.runtime.bus
        # On Kafka (an all-in-one `linkage run` pointed at a broker) this is a consumer group of
        # its own, next to the faust workers' group.
        subscription = bus.subscribe(bus.topics.raw, f"{self.runtime.streams.app_id}-inprocess")
        try:
            await anext(subscription)  # the empty "subscribed" batch
            ready.set()
            while True:
                batch = await anext(subscription)
                try:
                    await self.processor.handle([record.value for record in batch])
                except Exception:
                    # Even dead-lettering failed (the database is down?). The ledger still
                    # holds the batch as unprocessed: wait, then catch up from it.
                    self.runtime.metrics.errors.labels("runner").inc()
                    log.exception("pipeline batch could not be stored; catching up from the ledger")
                    await asyncio.sleep(1.0)
                    with contextlib.suppress(Exception):
                        await self.redrive()
        finally:
            # Cancelled between batches the generator sits at its yield: close it so its
            # consumer (a Kafka group member) leaves cleanly.
            await subscription.aclose()

    async def health(self) -> BackendHealth:
        task = self._task
        if task is None or task.done():
            return BackendHealth(False, "embedded-pipeline", "not running")
        return BackendHealth(True, "embedded-pipeline")
