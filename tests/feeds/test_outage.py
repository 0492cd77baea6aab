"""Nothing lost, nothing doubled: when the bus or the database is down the API answers 503 with
Retry-After and accepts nothing; once it is back the retried request gets every event in exactly
once (ledger and topic)."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from command_center.app import create_app
from infra.bus.base import Topics
from infra.bus.kafka import KafkaBus
from infra.db.models import FeedReceiptRow
from infra.runtime import Runtime
from infra.settings import Settings, StreamSettings
from streams.domain import event_id_for
from tests.feeds.conftest import Tansu, kafka_runtime, wait_stored
from tests.support import DESIGN_EXAMPLE, make_key

FEED = "/api/v1/feeds/incident"


def events(prefix: str, count: int) -> list[dict[str, Any]]:
    batch = []
    for n in range(count):
        event = copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": f"{prefix}-{n}"}
        event["geometry"]["coordinates"] = [115.5 + n * 0.01, 39.0]  # several partitions
        batch.append(event)
    return batch


def ledger(runtime: Runtime) -> Counter[str]:
    with runtime.sessions() as session:
        return Counter(session.scalars(select(FeedReceiptRow.source_id)))


async def read_topic(bootstrap: str, topic: str, expected: int, idle_s: float = 1.0) -> list[Any]:
    """Every message of ``topic`` from the beginning (waits for ``expected``, then a quiet spell
    to catch any extra copy)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Any] = []
    try:
        quiet_since = time.monotonic()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            fresh = [json.loads(m.value) for ms in batches.values() for m in ms]
            found += fresh
            if fresh:
                quiet_since = time.monotonic()
            elif len(found) >= expected and time.monotonic() - quiet_since > idle_s:
                break
    finally:
        await consumer.stop()
    return found


@pytest.mark.slow
def test_broker_outage_delivers_every_event_exactly_once(tmp_path: Path, tansu: Tansu) -> None:
    runtime = kafka_runtime(tmp_path, tansu)
    topics = Topics.from_prefix(StreamSettings().topic_prefix)
    key = {"X-API-Key": make_key(runtime, "fire")}
    before, during = events("before", 20), events("during", 30)
    try:
        with TestClient(create_app(runtime, run_pipeline=False)) as client:
            first = client.post(FEED, json=before, headers=key)
            assert first.status_code == 202 and first.json()["accepted"] == 20
            on_topic = asyncio.run(read_topic(tansu.bootstrap, topics.raw, 20, idle_s=0.3))
            assert Counter(m["envelope"]["source_id"] for m in on_topic) == {
                e["source_id"]: 1 for e in before
            }

            tansu.stop()
            started = time.monotonic()
            down = client.post(FEED, json=before + during, headers=key)
            assert down.status_code == 503, down.text
            assert int(down.headers["Retry-After"]) > 0
            assert down.json()["error"]["code"] == "service_unavailable"
            assert time.monotonic() - started < 30
            assert sum(ledger(runtime).values()) == 20  # nothing of the failed request

            # Tansu keeps topics in memory: a restarted one is empty, so make the flow's topics
            # again, as a real cluster (whose storage survives) would have them.
            tansu.start()
            asyncio.run(KafkaBus(tansu.bootstrap, topics).ensure_topics())
            retried = client.post(FEED, json=before + during, headers=key)
            assert retried.status_code == 202, retried.text
            body = retried.json()
            assert (body["accepted"], body["duplicates"]) == (30, 20)
            assert body["ids"] == [event_id_for("fire", e["source_id"]) for e in before + during]
            again = client.post(FEED, json=before + during, headers=key).json()
            assert (again["accepted"], again["duplicates"]) == (0, 50)

        assert ledger(runtime) == {e["source_id"]: 1 for e in before + during}
        after = asyncio.run(read_topic(tansu.bootstrap, topics.raw, 30))
        # The 20 sent before the outage were on the topic once (checked above, before the
        # restart emptied it); the 30 retried ones are on it once; no retry re-published any.
        assert Counter(m["envelope"]["source_id"] for m in after) == {
            e["source_id"]: 1 for e in during
        }
        assert {m["event_id"] for m in after} == set(body["ids"][20:])
    finally:
        runtime.close()


def test_database_outage_is_503_and_service_resumes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = Runtime.open(Settings(data_dir=data_dir))
    cached = {"X-API-Key": make_key(runtime, "fire")}
    fresh = {"X-API-Key": make_key(runtime, "public-security")}
    try:
        with TestClient(create_app(runtime)) as client:
            ok = client.post(FEED, json=events("ok", 1), headers=cached)
            assert ok.status_code == 202
            wait_stored(runtime, ok.json()["ids"])

            # Take the SQLite database away (its directory vanishes) and drop pooled
            # connections: every new connection now fails, as with a database server down.
            data_dir.rename(tmp_path / "away")
            runtime.engine.dispose()
            down = client.post(FEED, json=events("down", 3), headers=cached)
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"] == "5"
            assert "database" in down.json()["error"]["message"]
            # A key not yet in the server's cache cannot even be checked: 503, not 401 or 500.
            unchecked = client.post(FEED, json=events("down", 3), headers=fresh)
            assert unchecked.status_code == 503, unchecked.text

            (tmp_path / "away").rename(data_dir)
            back = client.post(FEED, json=events("down", 3), headers=cached)
            assert back.status_code == 202 and back.json()["accepted"] == 3
            assert client.post(FEED, json=events("down", 3), headers=fresh).status_code == 202
            wait_stored(runtime, back.json()["ids"])
        assert ledger(runtime) == {"ok-0": 1, "down-0": 2, "down-1": 2, "down-2": 2}
        with runtime.sessions() as session:
            agencies = session.scalar(select(func.count(func.distinct(FeedReceiptRow.agency))))
        assert agencies == 2
    finally:
        runtime.close()
