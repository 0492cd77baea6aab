"""Redis pub/sub over Redis Streams: ordered, and a server that blinks does not lose messages.

Each console server reads the stream from where it started (no consumer group: every server
needs every message). The stream is capped so Redis memory stays bounded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from infra.bus.base import BackendHealth
from infra.errors import ServiceUnavailable

_MAX_LEN = 100_000


class RedisPubSub:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=5, decode_responses=False
        )

    def _key(self, channel: str) -> str:
        return f"linkage:pubsub:{channel}"

    async def start(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(
                f"Redis at {self.url} is unreachable ({type(exc).__name__}); "
                "check LINKAGE_PUBSUB_URL and that Redis is running"
            ) from None

    async def stop(self) -> None:
        await self._client.aclose()

    async def publish(self, channel: str, messages: Sequence[dict[str, Any]]) -> None:
        if not messages:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.xadd(
                        self._key(channel),
                        {b"m": json.dumps(message, ensure_ascii=False).encode()},
                        maxlen=_MAX_LEN,
                        approximate=True,
                    )
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(f"Redis publish failed ({type(exc).__name__})") from None

    async def subscribe(self, channel: str) -> AsyncGenerator[list[dict[str, Any]], None]:
        key = self._key(channel)
        last_id = b"$"
        while True:
            answer = await self._client.xread({key: last_id}, block=1000, count=1000)
            if not answer:
                continue
            batch: list[dict[str, Any]] = []
            # decode_responses=False: a list of (stream, [(id, {field: value})]) in bytes.
            streams = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], answer)
            for _stream, entries in streams:
                for entry_id, fields in entries:
                    last_id = entry_id
                    batch.append(json.loads(fields[b"m"]))
            if batch:
                yield batch

    async def health(self) -> BackendHealth:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            return BackendHealth(False, "redis", type(exc).__name__)
        return BackendHealth(True, "redis", self.url.split("@")[-1])
