"""Running the pipeline over a stream of raw batches, with the failure policy both runtimes share.

A batch that fails as a whole is retried record by record; a record that still fails is kept as
a dead letter with its reason (and its ledger row marked processed), so one poisoned message can
neither block the stream nor be silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from sqlalchemy import update

from infra.db.models import DeadLetterRow, FeedReceiptRow
from infra.runtime import Runtime
from streams.domain import new_id, utcnow
from streams.pipeline import BatchResult, Pipeline
from streams.publish import publish_batch

log = logging.getLogger(__name__)


class BatchProcessor:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.pipeline = Pipeline(runtime.sessions, runtime.geo, runtime.streams)

    async def handle(self, values: list[bytes]) -> None:
        if not values:
            return
        metrics = self.runtime.metrics
        try:
            results = [await asyncio.to_thread(self.pipeline.process, values)]
        except Exception:
            metrics.errors.labels("pipeline").inc()
            log.exception("batch of %d failed; retrying record by record", len(values))
            results = []
            for value in values:
                try:
                    results.append(await asyncio.to_thread(self.pipeline.process, [value]))
                except Exception as exc:
                    metrics.errors.labels("pipeline").inc()
                    await asyncio.to_thread(self._dead_letter, value, exc)
        for result in results:
            metrics.events_processed.inc(len(result.events) + result.skipped)
            metrics.batch_seconds.observe(result.seconds)
            await self._publish(result)

    async def _publish(self, result: BatchResult) -> None:
        try:
            await publish_batch(result, self.runtime.bus, self.runtime.pubsub)
        except Exception:
            # Stored already; the console recovers through its snapshot on reconnect.
            self.runtime.metrics.errors.labels("publish").inc()
            log.exception("publishing a committed batch failed")

    def _dead_letter(self, value: bytes, exc: Exception) -> None:
        import json

        try:
            record = json.loads(value)
        except ValueError:
            record = {"raw": value[:65536].decode("utf-8", errors="replace")}
        reason = f"{type(exc).__name__}: {exc}"
        detail = "".join(traceback.format_exception_only(exc)).strip()
        now = utcnow()
        with self.runtime.sessions() as session, session.begin():
            session.add(
                DeadLetterRow(
                    id=new_id(),
                    stage="pipeline",
                    reason=reason or detail,
                    record=record,
                    created_at=now,
                )
            )
            event_id = record.get("event_id") if isinstance(record, dict) else None
            if event_id:
                session.execute(
                    update(FeedReceiptRow)
                    .where(FeedReceiptRow.event_id == event_id)
                    .values(processed_at=now)
                )
