"""The faust-streaming application and its topics (distributed runtime).

Topics carry raw bytes: JSON with a schema version field ``v``, encoded and validated by our own
models (``streams.envelope``), so agencies producing to Kafka need no faust-specific codec.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from infra.bus.base import Topics
from infra.settings import Settings, StreamSettings


@dataclass(frozen=True)
class StreamTopics:
    raw: faust.TopicT
    events: faust.TopicT
    incidents: faust.TopicT
    commands: faust.TopicT
    console: faust.TopicT
    dead_letters: faust.TopicT


def make_app(settings: Settings, streams: StreamSettings) -> faust.App:
    return faust.App(
        streams.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        # Our state lives in the database; faust tables are not used, so nothing to replay.
        store="memory://",
        web_enabled=False,
        topic_partitions=streams.partitions,
        key_serializer="raw",
        value_serializer="raw",
        # Large buffers and bounded polls: faust's own advice for throughput, and the cure for
        # wait_empty hangs on rebalance (see docs/streams.md).
        stream_buffer_maxsize=131_072,
        broker_max_poll_records=streams.batch_max,
        producer_linger=0.005,
        broker_commit_interval=1.0,
        broker_rebalance_timeout=streams.rebalance_timeout_seconds,
        broker_session_timeout=streams.session_timeout_seconds,
    )


def make_topics(app: faust.App, streams: StreamSettings) -> StreamTopics:
    names = Topics.from_prefix(streams.topic_prefix)

    def topic(name: str) -> faust.TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=streams.partitions,
        )

    return StreamTopics(
        raw=topic(names.raw),
        events=topic(names.events),
        incidents=topic(names.incidents),
        commands=topic(names.commands),
        console=topic(names.console),
        dead_letters=topic(names.dead_letters),
    )
