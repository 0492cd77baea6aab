"""The assembled backends of one process, built once from settings and shared by every adapter.

``Runtime.open`` is the single place that turns URLs into live backends; the HTTP app, the stream
runner and the CLI all receive a ``Runtime`` rather than building their own connections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from infra.bus import Bus, make_bus
from infra.db.engine import check_database, make_engine, make_sessionmaker
from infra.db.migrate import upgrade
from infra.metrics import Metrics
from infra.pubsub import PubSub, make_pubsub
from infra.settings import Settings, StreamSettings

if TYPE_CHECKING:
    from gis.service import GeoService


@dataclass
class Runtime:
    settings: Settings
    streams: StreamSettings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: Bus
    pubsub: PubSub
    geo: GeoService
    metrics: Metrics = field(default_factory=Metrics)
    _started: bool = field(default=False, init=False)

    @classmethod
    def open(
        cls,
        settings: Settings,
        streams: StreamSettings | None = None,
        *,
        migrate: bool = True,
    ) -> Runtime:
        """Connect storage (migrating it when asked) and build, but not start, bus and pub/sub."""
        from gis.service import GeoService

        streams = streams or StreamSettings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings)
        check_database(engine)
        if migrate:
            upgrade(engine)
        return cls(
            settings=settings,
            streams=streams,
            engine=engine,
            sessions=make_sessionmaker(engine),
            bus=make_bus(settings, streams),
            pubsub=make_pubsub(settings),
            geo=GeoService.open(settings, engine),
        )

    async def start(self) -> None:
        """Connect bus and pub/sub; idempotent, so a CLI can fail fast before serving."""
        if self._started:
            return
        await self.bus.start()
        await self.pubsub.start()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        await self.pubsub.stop()
        await self.bus.stop()
        self._started = False

    def close(self) -> None:
        self.engine.dispose()
