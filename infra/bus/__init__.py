"""The event bus: one interface, an in-process adapter and a Kafka adapter, chosen by URL."""

from __future__ import annotations

from infra.bus.base import Bus, BusRecord, Topics
from infra.settings import Settings, StreamSettings


def make_bus(settings: Settings, streams: StreamSettings) -> Bus:
    topics = Topics.from_prefix(streams.topic_prefix)
    if settings.bus_kind == "kafka":
        from infra.bus.kafka import KafkaBus

        return KafkaBus(
            settings.kafka_bootstrap,
            topics,
            partitions=streams.partitions,
            session_timeout_ms=int(streams.session_timeout_seconds * 1000),
        )
    from infra.bus.memory import MemoryBus

    return MemoryBus(topics)


__all__ = ["Bus", "BusRecord", "Topics", "make_bus"]
