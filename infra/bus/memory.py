"""In-process bus for the embedded runtime: asyncio queues, one per consumer group.

Durability in the embedded runtime comes from the intake ledger in SQLite (unprocessed receipts
are re-driven at start-up), so this bus only has to be fast and ordered.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncGenerator, Sequence

from infra.bus.base import BackendHealth, BusRecord, Topics

_MAX_BATCH = 1000


class MemoryBus:
    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self._groups: dict[str, dict[str, asyncio.Queue[BusRecord]]] = defaultdict(dict)
        # Records published before any group subscribed wait here for the first one.
        self._backlog: dict[str, list[BusRecord]] = defaultdict(list)
        self._running = False

    async def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False

    async def publish(self, topic: str, records: Sequence[BusRecord]) -> None:
        groups = self._groups.get(topic)
        if not groups:
            self._backlog[topic].extend(records)
            return
        for queue in groups.values():
            for record in records:
                queue.put_nowait(record)

    def _queue(self, topic: str, group: str) -> asyncio.Queue[BusRecord]:
        groups = self._groups[topic]
        if group not in groups:
            queue: asyncio.Queue[BusRecord] = asyncio.Queue()
            for record in self._backlog.pop(topic, []):
                queue.put_nowait(record)
            groups[group] = queue
        return groups[group]

    async def subscribe(self, topic: str, group: str) -> AsyncGenerator[list[BusRecord], None]:
        queue = self._queue(topic, group)
        yield []  # subscribed: nothing published from now on is missed
        while True:
            batch = [await queue.get()]
            while len(batch) < _MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            yield batch

    async def health(self) -> BackendHealth:
        return BackendHealth(self._running, "memory", "" if self._running else "stopped")
