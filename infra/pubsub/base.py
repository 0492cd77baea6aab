"""What a pub/sub backend offers the console servers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol

from infra.bus.base import BackendHealth


class PubSub(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, messages: Sequence[dict[str, Any]]) -> None:
        """Publish in order; every subscriber sees the messages in this order."""

    def subscribe(self, channel: str) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Yield batches of messages published after the subscription started."""
        ...

    async def health(self) -> BackendHealth: ...
