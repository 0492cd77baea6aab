"""Publish: after a batch commits, tell the console and downstream consumers what changed."""

from __future__ import annotations

import json

from infra.bus import Bus, BusRecord
from infra.pubsub import PubSub
from streams.pipeline import BatchResult

CONSOLE_CHANNEL = "console"


async def publish_batch(result: BatchResult, bus: Bus, pubsub: PubSub) -> None:
    if result.console:
        # Console first: it is what an operator is waiting for.
        await pubsub.publish(CONSOLE_CHANNEL, [change.to_message() for change in result.console])
        await bus.publish(
            bus.topics.incidents,
            [
                BusRecord(
                    str(change.payload["id"]).encode(),
                    json.dumps(change.payload, ensure_ascii=False).encode(),
                )
                for change in result.console
            ],
        )
    if result.events:
        await bus.publish(
            bus.topics.events,
            [
                BusRecord(
                    event.id.encode(), json.dumps(event.to_json(), ensure_ascii=False).encode()
                )
                for event in result.events
            ],
        )
    if result.rejected:
        await bus.publish(
            bus.topics.dead_letters,
            [
                BusRecord(
                    None,
                    json.dumps(
                        {"stage": r.stage, "reason": r.reason, "record": r.record},
                        ensure_ascii=False,
                    ).encode(),
                )
                for r in result.rejected
            ],
        )
