"""The thin slice on the distributed runtime: real Kafka-protocol broker, PostGIS and Redis.

Two `linkage serve` processes and one `linkage worker` run as real processes; an event posted to
one server reaches websocket clients of both (Redis fan-out) and lands in PostGIS.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import create_engine, text

from tests.processes import background, free_port, linkage, wait_healthy
from tests.support import DESIGN_EXAMPLE

pytestmark = [pytest.mark.services, pytest.mark.slow]


async def _next_delta(socket: Any, within_s: float) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), within_s))
        if message["type"] == "delta":
            return dict(message)


async def _post_and_watch(
    urls: list[str], key: str, token: str
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    sockets = [
        await websockets.connect(f"{url.replace('http', 'ws')}/ws/console?token={token}")
        for url in urls
    ]
    try:
        snapshots = [json.loads(await asyncio.wait_for(s.recv(), 10)) for s in sockets]
        assert all(s["type"] == "snapshot" for s in snapshots)
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{urls[0]}/api/v1/feeds/incident",
                json=DESIGN_EXAMPLE,
                headers={"X-API-Key": key},
            )
            assert answer.status_code == 202, answer.text
            # The faust worker may still be joining its group: allow for the rebalance.
            deltas = [await _next_delta(s, 60) for s in sockets]
            again = await client.post(
                f"{urls[1]}/api/v1/feeds/incident",
                json=DESIGN_EXAMPLE,
                headers={"X-API-Key": key},
            )
        return answer.json(), deltas, again.json()
    finally:
        for s in sockets:
            await s.close()


def test_event_travels_kafka_postgis_redis_to_every_console(
    tmp_path: Path, postgis_url: str, redis_url: str, kafka_url: str
) -> None:
    unique = uuid.uuid4().hex[:8]
    env = {
        "LINKAGE_DATABASE_URL": postgis_url,
        "LINKAGE_BUS_URL": kafka_url,
        "LINKAGE_PUBSUB_URL": redis_url,
        "LINKAGE_DATA_DIR": str(tmp_path / "data"),
        "LINKAGE_STREAM_TOPIC_PREFIX": f"t{unique}",
        "LINKAGE_STREAM_APP_ID": f"linkage-{unique}",
        "LINKAGE_LOG_LEVEL": "INFO",
    }
    upgraded = linkage("db", "upgrade", env=env)
    assert "0001" in upgraded.stdout or "head" in upgraded.stdout or upgraded.stdout
    key = linkage("keys", "create", "fire", env=env).stdout.strip().splitlines()[-1]
    linkage(
        "users",
        "create",
        "op",
        "--role",
        "operator",
        "--password-stdin",
        env=env,
        stdin="correct horse battery\n",
    )

    ports = [free_port(), free_port()]
    logs = [tmp_path / "serve-a.log", tmp_path / "serve-b.log", tmp_path / "worker.log"]
    with (
        background("worker", env=env, log=logs[2]) as worker,
        background("serve", "--port", str(ports[0]), env=env, log=logs[0]) as serve_a,
        background("serve", "--port", str(ports[1]), env=env, log=logs[1]) as serve_b,
    ):
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process, log in zip(urls, (serve_a, serve_b), logs, strict=False):
            wait_healthy(url, process, log, timeout=30)
        health = httpx.get(f"{urls[0]}/healthz").json()["checks"]
        assert health["bus"]["backend"] == "kafka" and health["pubsub"]["backend"] == "redis"
        assert health["database"]["backend"] == "postgresql"
        token = httpx.post(
            f"{urls[0]}/api/v1/auth/token",
            data={"username": "op", "password": "correct horse battery"},
        ).json()["access_token"]
        try:
            first, deltas, again = asyncio.run(_post_and_watch(urls, key, token))
        except Exception:
            assert worker.poll() is None, logs[2].read_text()[-4000:]
            raise AssertionError("no delta; worker log:\n" + logs[2].read_text()[-6000:]) from None

    event_id = first["ids"][0]
    assert first["accepted"] == 1 and again == {"accepted": 0, "duplicates": 1, "ids": [event_id]}
    assert deltas[0] == deltas[1]  # both servers told their operators the same thing
    incident = deltas[0]["incident"]
    assert incident["event_ids"] == [event_id] and incident["county"] == "130681"
    assert incident["category"] == "rescue" and incident["status"] == "new"

    engine = create_engine(postgis_url)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT agency, source_id, county, incident_id, ST_SRID(geometry), ST_X(geometry),"
                " ST_Y(geometry) FROM events WHERE id = :id"
            ),
            {"id": event_id},
        ).one()
        incidents = connection.execute(text("SELECT id, level, county FROM incidents")).all()
        processed = connection.execute(
            text("SELECT processed_at IS NOT NULL FROM feed_receipts WHERE event_id = :id"),
            {"id": event_id},
        ).scalar_one()
    engine.dispose()
    assert row[:4] == ("fire", "110-20230731-0001", "130681", incident["id"])
    assert row[4] == 4326 and (row[5], row[6]) == pytest.approx((115.974, 39.486))
    assert [tuple(i) for i in incidents] == [(incident["id"], incident["level"], "130681")]
    assert processed is True


def test_a_second_call_nearby_updates_the_same_incident_in_postgis(
    tmp_path: Path, postgis_url: str, redis_url: str, kafka_url: str
) -> None:
    """Correlation against stored incidents works on PostGIS too (the embedded suite covers the
    in-batch case); run in-process here to keep the suite fast."""
    from infra.runtime import Runtime
    from infra.settings import Settings, StreamSettings
    from streams.envelope import RawRecord
    from streams.pipeline import Pipeline

    settings = Settings(database_url=postgis_url, data_dir=tmp_path)
    runtime = Runtime.open(settings)
    try:
        pipeline = Pipeline(runtime.sessions, runtime.geo, StreamSettings())
        results = []
        for n, lon in enumerate((115.464, 115.467)):  # 保定, away from the other test's incident
            envelope = copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": f"pg-{n}"}
            envelope["geometry"]["coordinates"] = [lon, 38.874]
            envelope["data"]["category"] = "collapse"
            record = RawRecord.model_validate(
                {
                    "event_id": str(uuid.uuid4()),
                    "agency": "fire",
                    "domain": "incident",
                    "received_at": "2023-07-31T08:13:00+08:00",
                    "envelope": envelope,
                }
            )
            results.append(pipeline.process([record.model_dump_json().encode()]))
        first, second = (r.console[0].payload for r in results)
        assert second["id"] == first["id"] and second["version"] == first["version"] + 1
        assert len(second["event_ids"]) == 2
    finally:
        runtime.close()
