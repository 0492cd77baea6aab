"""``KafkaBus.publish`` builds its own producer batches, so it picks partitions itself: they must be
Kafka's default partitioner's (agencies producing to the raw topic with any client must land a
key where we land it), and nothing may be lost, doubled or reordered within a key, however many
records and producer batches one publish takes."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from infra.bus.base import BusRecord, Topics
from infra.bus.kafka import PRODUCER_SETTINGS, KafkaBus, default_partition

pytestmark = pytest.mark.services

PARTITIONS = 4

# Kafka's own test vectors for murmur2 (the Java client's UtilsTest), signed as Java has them.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def cell_keys(count: int, seed: int = 5) -> list[bytes]:
    """Keys as intake makes them (``lon:lat`` of ~11 km cells), plus arbitrary bytes."""
    rng = random.Random(seed)
    keys = {f"{rng.randint(-1800, 1800)}:{rng.randint(-900, 900)}".encode() for _ in range(count)}
    keys |= {rng.randbytes(rng.randint(1, 40)) for _ in range(count // 4)}
    return sorted(keys)


async def started_bus(bootstrap: str, prefix: str) -> KafkaBus:
    bus = KafkaBus(bootstrap, Topics.from_prefix(prefix), partitions=PARTITIONS)
    await bus.start()
    return bus


async def consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list[Any]:
    """Every record of ``topic`` from the start, as ``(partition, offset, key, value)``; waits for
    ``expected`` of them, then a short quiet spell to catch any extra copy."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            fresh = [(m.partition, m.offset, m.key, m.value) for ms in batches.values() for m in ms]
            found += fresh
            if fresh:
                quiet_since = time.monotonic()
            elif len(found) >= expected and time.monotonic() - quiet_since > 0.5:
                break
    finally:
        await consumer.stop()
    return found


def assert_complete_and_in_key_order(found: list[Any], records: list[BusRecord]) -> None:
    """Each record exactly once; per key, in publish order within one partition."""
    assert sorted(value for _, _, _, value in found) == sorted(r.value for r in records)
    by_key: dict[bytes | None, list[tuple[int, int, int]]] = defaultdict(list)
    for partition, offset, key, value in found:
        by_key[key].append((partition, offset, json.loads(value)["seq"]))
    for key, seen in by_key.items():
        if key is None:
            continue  # keyless records promise no order
        assert len({partition for partition, _, _ in seen}) == 1, key
        in_offset_order = [seq for _, _, seq in sorted(seen)]
        assert in_offset_order == sorted(in_offset_order), key


def test_partition_is_the_java_clients_for_its_test_vectors() -> None:
    for key, signed in JAVA_MURMUR2.items():
        for count in (1, 3, 4, 12):
            assert default_partition(key, range(count)) == (signed & 0x7FFFFFFF) % count


async def test_partitions_are_those_of_the_default_partitioner(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    keys = cell_keys(1500)
    bus = await started_bus(kafka_bootstrap, kafka_topic_prefix)
    topic = bus.topics.raw
    try:
        await bus.publish(topic, [BusRecord(key, b"bus") for key in keys])
        # The same keys from a plain aiokafka producer, partitioned by aiokafka itself.
        plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_SETTINGS)
        await plain.start()
        try:
            await asyncio.gather(*[await plain.send(topic, b"plain", key=key) for key in keys])
        finally:
            await plain.stop()
    finally:
        await bus.stop()

    found = await consume(kafka_bootstrap, topic, 2 * len(keys))
    assert len(found) == 2 * len(keys)
    ours = {key: partition for partition, _, key, value in found if value == b"bus"}
    theirs = {key: partition for partition, _, key, value in found if value == b"plain"}
    assert ours == theirs
    everything = list(range(PARTITIONS))
    assert ours == {key: DefaultPartitioner()(key, everything, everything) for key in keys}
    assert set(ours.values()) == set(everything)


async def test_thousands_of_records_arrive_complete_and_in_key_order(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    rng = random.Random(8)
    keys: list[bytes | None] = [*cell_keys(60), None]
    records = [
        BusRecord(key, json.dumps({"seq": seq, "key": key and key.hex()}).encode())
        for seq, key in enumerate(rng.choice(keys) for _ in range(6000))
    ]
    bus = await started_bus(kafka_bootstrap, kafka_topic_prefix)
    try:
        await bus.publish(bus.topics.raw, records[:4000])
        # Two publishes at once, as concurrent requests make them.
        await asyncio.gather(
            bus.publish(bus.topics.raw, records[4000:5000]),
            bus.publish(bus.topics.raw, records[5000:]),
        )
    finally:
        await bus.stop()
    found = await consume(kafka_bootstrap, bus.topics.raw, len(records))
    assert len({partition for partition, _, _, _ in found}) == PARTITIONS
    keyless = [partition for partition, _, key, _ in found if key is None]
    assert len(set(keyless)) > 1  # spread, as the default partitioner spreads them
    # Each publish keeps its keys' order; between two concurrent ones no order is promised.
    for start, end in ((0, 4000), (4000, 5000), (5000, len(records))):
        mine = [f for f in found if start <= json.loads(f[3])["seq"] < end]
        assert_complete_and_in_key_order(mine, records[start:end])


async def test_a_publish_larger_than_one_producer_batch(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    # ~4.8 MB on two keys: several full producer batches (max_batch_size) per partition.
    filler = "x" * 60_000
    keys = [b"1159:394", b"1160:395"]
    records = [
        BusRecord(keys[seq % 2], json.dumps({"seq": seq, "filler": filler}).encode())
        for seq in range(80)
    ]
    assert sum(len(r.value) for r in records) > 4 * PRODUCER_SETTINGS["max_batch_size"]
    bus = await started_bus(kafka_bootstrap, kafka_topic_prefix)
    try:
        await bus.publish(bus.topics.raw, records)
    finally:
        await bus.stop()
    found = await consume(kafka_bootstrap, bus.topics.raw, len(records))
    assert_complete_and_in_key_order(found, records)


class _Batch:
    def __init__(self, room: int) -> None:
        self.room = room
        self.records: list[tuple[bytes | None, bytes]] = []

    def append(self, *, timestamp: None, key: bytes | None, value: bytes) -> object | None:
        if self.records and len(self.records) >= self.room:
            return None
        self.records.append((key, value))
        return object()


class _Producer:
    """What ``KafkaBus._batches`` uses of a producer: batches that fill up after ``room``."""

    def __init__(self, room: int) -> None:
        self.room = room

    def create_batch(self) -> _Batch:
        return _Batch(self.room)


def test_keys_map_anew_when_the_partition_count_changes() -> None:
    bus = KafkaBus("unused:9092", Topics.from_prefix("t"))
    keys = cell_keys(300)
    records = [BusRecord(key, b"v") for key in keys]
    for count in (4, 4, 6, 2):
        known = frozenset(range(count))
        batches = bus._batches(_Producer(room=50), "t.raw", known, records)
        placed = {
            key: partition
            for partition, builders in batches.items()
            for builder in builders
            for key, _ in builder.records
        }
        assert placed == {key: default_partition(key, range(count)) for key in keys}
        # Full batches were closed and followed by new ones, records kept in order.
        for builders in batches.values():
            assert all(len(b.records) == 50 for b in builders[:-1])
            in_order = [key for b in builders for key, _ in b.records]
            assert in_order == [key for key in keys if placed[key] == placed[in_order[0]]]
