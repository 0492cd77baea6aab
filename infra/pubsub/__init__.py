"""Console fan-out: in-process for one server, Redis streams between several, chosen by URL."""

from __future__ import annotations

from infra.pubsub.base import PubSub
from infra.settings import Settings


def make_pubsub(settings: Settings) -> PubSub:
    if settings.pubsub_kind == "redis":
        from infra.pubsub.redis import RedisPubSub

        return RedisPubSub(settings.pubsub_url)
    from infra.pubsub.memory import MemoryPubSub

    return MemoryPubSub()


__all__ = ["PubSub", "make_pubsub"]
