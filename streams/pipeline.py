"""The whole stream flow for one batch: normalize ▶ enrich ▶ detect ▶ correlate ▶ plan ▶ store.

Framework-free and synchronous (database work): the embedded runner and the faust agent both call
``Pipeline.process`` with a batch of raw-topic messages and publish what it returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from gis.service import GeoService
from infra.errors import Conflict
from infra.settings import StreamSettings
from streams.correlate import correlate
from streams.detect import detect
from streams.domain import Event, utcnow
from streams.enrich import enrich
from streams.normalize import Rejected, normalize, parse_raw
from streams.plan import plan
from streams.rules import Rules, default_rules
from streams.store import ConsoleChange, Store

log = logging.getLogger(__name__)
_CONFLICT_RETRIES = 5


@dataclass
class BatchResult:
    events: list[Event] = field(default_factory=list)
    console: list[ConsoleChange] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0


class Pipeline:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        geo: GeoService,
        settings: StreamSettings,
        rules: Rules | None = None,
    ) -> None:
        self.sessions = sessions
        self.geo = geo
        self.settings = settings
        self.rules = rules or default_rules()
        self.store = Store()

    def process(self, values: list[bytes]) -> BatchResult:
        started = time.perf_counter()
        records, rejected = parse_raw(values)
        events, refused = normalize(records)
        rejected += refused
        events = enrich(events, self.geo)
        for attempt in range(_CONFLICT_RETRIES):
            try:
                result = self._store(events, rejected, [r.event_id for r in records])
                break
            except Conflict:
                log.info("batch met a concurrent incident change; retry %d", attempt + 1)
        else:
            raise Conflict("incident updates kept conflicting; the batch will be redelivered")
        result.seconds = time.perf_counter() - started
        return result

    def _store(
        self, events: list[Event], rejected: list[Rejected], record_ids: list[str]
    ) -> BatchResult:
        now = utcnow()
        with self.sessions() as session, session.begin():
            # Redelivered events were handled by an earlier batch: skip them whole.
            done = self.store.already_stored(session, (event.id for event in events))
            fresh = [event for event in events if event.id not in done]
            detections = detect(fresh, self.rules)
            window = timedelta(seconds=self.settings.correlate_window_seconds)
            candidates = self.store.candidates(
                session, detections, radius_m=self.settings.correlate_radius_m, window=window
            )
            changes = correlate(
                detections,
                candidates,
                radius_m=self.settings.correlate_radius_m,
                window=window,
                now=now,
            )
            self.store.complete(session, changes)
            changes = plan(changes, self.rules)
            console = self.store.save_batch(
                session,
                events=fresh,
                changes=changes,
                rejected=rejected,
                processed_event_ids=record_ids,
                now=now,
            )
        return BatchResult(events=fresh, console=console, rejected=rejected, skipped=len(done))
