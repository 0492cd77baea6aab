"""In-process pub/sub: every subscriber gets its own queue."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from infra.bus.base import BackendHealth


class MemoryPubSub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, channel: str, messages: Sequence[dict[str, Any]]) -> None:
        for queue in self._subscribers.get(channel, ()):
            for message in messages:
                queue.put_nowait(message)

    async def subscribe(self, channel: str) -> AsyncGenerator[list[dict[str, Any]], None]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers[channel].add(queue)
        try:
            while True:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                yield batch
        finally:
            self._subscribers[channel].discard(queue)

    async def health(self) -> BackendHealth:
        return BackendHealth(True, "memory")
