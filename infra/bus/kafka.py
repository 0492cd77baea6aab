"""Kafka adapter: aiokafka producer for intake and commands, consumer groups for readers.

The stream workers themselves consume through faust-streaming (``streams/app.py``); this adapter is
the producing side, batched: a publish fills one producer batch per partition (more when one fills
up), submits them all and waits once for every ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from infra.bus.base import BackendHealth, BusRecord, Topics
from infra.errors import ServiceUnavailable

_CONNECT_TIMEOUT_S = 10.0

#: The producer's settings. ``bench/bench_intake.py`` builds its plain-aiokafka baseline from the
#: same dict, so the intake is measured against exactly the producer it uses.
PRODUCER_SETTINGS: Final[dict[str, Any]] = {
    "acks": "all",
    # No linger: a lone event (a single POST) goes out at once; under load aiokafka batches what
    # piles up while a request is in flight anyway (measured: 5 ms less per single publish, and
    # more throughput for batches of 500).
    "linger_ms": 0,
    "max_batch_size": 1024 * 1024,
    "request_timeout_ms": 15000,
}

# Keys are ~11 km cells and repeat a lot; past this many the key->partition cache starts over
# rather than growing without bound.
_ROUTE_CACHE_SIZE = 65_536


@dataclass(slots=True)
class _Routes:
    """Key -> partition for one topic, valid for one set of partitions."""

    partitions: frozenset[int]
    ordered: tuple[int, ...]
    by_key: dict[bytes, int] = field(default_factory=dict)


def default_partition(key: bytes, ordered: Sequence[int]) -> int:
    """Kafka's default partitioner for a keyed record, as the Java client and aiokafka's
    ``DefaultPartitioner`` compute it: positive murmur2 of the key modulo the partition count.
    Agencies that produce to the raw topic themselves must land a key where we land it."""
    index: int = (murmur2(key) & 0x7FFFFFFF) % len(ordered)
    return ordered[index]


def _records(batches: dict[Any, list[ConsumerRecord[bytes, bytes]]]) -> list[BusRecord]:
    return [
        BusRecord(message.key, message.value)
        for messages in batches.values()
        for message in messages
    ]


class KafkaBus:
    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        *,
        partitions: int = 4,
        session_timeout_ms: int = 10_000,
    ) -> None:
        self.topics = topics
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.session_timeout_ms = session_timeout_ms
        self._producer: AIOKafkaProducer | None = None
        self._routes: dict[str, _Routes] = {}

    async def start(self) -> None:
        await self.ensure_topics()
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **PRODUCER_SETTINGS)
        try:
            await asyncio.wait_for(producer.start(), _CONNECT_TIMEOUT_S)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            raise ServiceUnavailable(
                f"Kafka broker at {self.bootstrap} is unreachable ({type(exc).__name__}); "
                "check LINKAGE_BUS_URL and that the broker is running"
            ) from None
        self._producer = producer

    async def ensure_topics(self) -> None:
        """Create the flow's topics with our partition count (brokers' defaults differ)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)
        try:
            await asyncio.wait_for(admin.start(), _CONNECT_TIMEOUT_S)
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, num_partitions=self.partitions, replication_factor=1)
                for name in self.topics.all()
                if name not in existing
            ]
            if missing:
                # Another process may win the race; the topic is there then, which is the point.
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise ServiceUnavailable(
                f"Kafka broker at {self.bootstrap} is unreachable ({type(exc).__name__}); "
                "check LINKAGE_BUS_URL and that the broker is running"
            ) from None
        finally:
            await admin.close()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, topic: str, records: Sequence[BusRecord]) -> None:
        producer = self._producer
        if producer is None:
            raise ServiceUnavailable("the Kafka producer is not started")
        if not records:
            return
        # Why batches instead of one ``send`` per record: ``send`` waits on metadata, sizes,
        # partitions (pure Python murmur2) and queues each record on its own, which cost 15% of
        # the intake server's CPU. Here the records go straight into one producer batch per
        # partition, and the publish waits once for all of them.
        sent: list[asyncio.Future[Any]] = []
        try:
            # Waits for the topic's metadata (as ``send`` does), raising if there is none.
            known = frozenset(await producer.partitions_for(topic))
            batches = self._batches(producer, topic, known, records)
            if len(batches) == 1:
                [(partition, builders)] = batches.items()
                if len(builders) == 1:  # a lone event, a command: no tasks to gather
                    await (await producer.send_batch(builders[0], topic, partition=partition))
                    return
            submitted = await asyncio.gather(
                *(
                    self._submit(producer, topic, partition, builders, sent)
                    for partition, builders in batches.items()
                ),
                return_exceptions=True,
            )
            # Every future is awaited, even after a failure, so none is left unretrieved.
            delivered = await asyncio.gather(*sent, return_exceptions=True)
            for outcome in (*submitted, *delivered):
                if isinstance(outcome, BaseException):
                    raise outcome
        except (KafkaError, OSError) as exc:
            raise ServiceUnavailable(
                f"Kafka did not accept the batch ({type(exc).__name__}); retry later",
                retry_after=5,
            ) from None

    def _batches(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        known: frozenset[int],
        records: Sequence[BusRecord],
    ) -> dict[int, list[Any]]:
        """The records in producer batches by partition, each partition's in record order."""
        routes = self._routes.get(topic)
        if routes is None or routes.partitions != known:
            # New topic, or its partition count changed: keys map elsewhere now.
            routes = self._routes[topic] = _Routes(known, tuple(sorted(known)))
        by_key, ordered = routes.by_key, routes.ordered
        available: list[int] | None = None
        open_batches: dict[int, Any] = {}
        batches: dict[int, list[Any]] = {}
        for record in records:
            key = record.key
            if key is None:
                # As the default partitioner does for keyless records: a random partition with
                # a leader (any partition when none has one).
                if available is None:
                    leaders = producer.client.cluster.available_partitions_for_topic(topic)
                    available = sorted(leaders) if leaders else list(ordered)
                partition = random.choice(available)
            else:
                cached = by_key.get(key)
                if cached is None:
                    if len(by_key) >= _ROUTE_CACHE_SIZE:
                        by_key.clear()
                    cached = by_key[key] = default_partition(key, ordered)
                partition = cached
            batch = open_batches.get(partition)
            if batch is None:
                batch = open_batches[partition] = producer.create_batch()
                batches[partition] = [batch]
            if batch.append(timestamp=None, key=key, value=record.value) is None:
                # Full (max_batch_size): it goes as it is and a new one takes the record; a
                # batch's first record always fits, however large.
                batch = open_batches[partition] = producer.create_batch()
                batches[partition].append(batch)
                batch.append(timestamp=None, key=key, value=record.value)
        return batches

    @staticmethod
    async def _submit(
        producer: AIOKafkaProducer,
        topic: str,
        partition: int,
        builders: list[Any],
        sent: list[asyncio.Future[Any]],
    ) -> None:
        # One partition's batches in order (aiokafka keeps one in flight per partition, so the
        # order holds on the broker); partitions are submitted concurrently.
        for builder in builders:
            sent.append(await producer.send_batch(builder, topic, partition=partition))

    async def subscribe(self, topic: str, group: str) -> AsyncGenerator[list[BusRecord], None]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=True,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(self.session_timeout_ms // 4, 500),
        )
        try:
            await consumer.start()
            # Wait for the group join before saying "subscribed": stopping a consumer whose
            # coordinator is still opening connections leaks them (an aiokafka race).
            joined_by = asyncio.get_running_loop().time() + 2 * self.session_timeout_ms / 1000
            early: list[BusRecord] = []
            while not consumer.assignment() and asyncio.get_running_loop().time() < joined_by:
                early += _records(await consumer.getmany(timeout_ms=200, max_records=1000))
            yield []
            if early:
                yield early
            while True:
                records = _records(await consumer.getmany(timeout_ms=500, max_records=1000))
                if records:
                    yield records
        finally:
            await asyncio.shield(consumer.stop())

    async def health(self) -> BackendHealth:
        producer = self._producer
        if producer is None:
            return BackendHealth(False, "kafka", "not started")
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), 5)
        except (KafkaError, OSError, TimeoutError) as exc:
            return BackendHealth(False, "kafka", f"{self.bootstrap}: {type(exc).__name__}")
        return BackendHealth(True, "kafka", self.bootstrap)
