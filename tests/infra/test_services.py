"""The service fixtures give working PostgreSQL + PostGIS, Redis and a Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.services import (
    SERVICES_SCRIPT,
    ServiceLayer,
    _parse_exports,
    unique_topic_prefix,
)


@pytest.mark.services
def test_postgis_database_is_fresh_and_can_create_postgis(postgis_url: str) -> None:
    assert postgis_url.startswith("postgresql+psycopg2://")
    engine = create_engine(postgis_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            name = connection.execute(text("SELECT current_database()")).scalar_one()
            assert name.startswith("linkage_test_")
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            point = connection.execute(text("SELECT ST_AsText(ST_Point(1, 2))")).scalar_one()
            assert point == "POINT(1 2)"
    finally:
        engine.dispose()


@pytest.mark.services
def test_redis_ping_set_get(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping()
        key = unique_topic_prefix("ping")
        client.set(key, "答复", ex=60)
        assert client.get(key) == "答复".encode()
        assert redis_url.rsplit("/", 1)[1] != "0"  # a leased index, not the shared default
    finally:
        client.close()


@pytest.mark.services
async def test_kafka_produces_and_consumes_100_messages(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}-roundtrip"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    sent = [f"event-{i}".encode() for i in range(100)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        batch = [await producer.send(topic, value) for value in sent]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                records = await consumer.getmany(timeout_ms=500)
                for messages in records.values():
                    received.extend(m.value for m in messages)
    finally:
        await consumer.stop()
    assert received == sent


def test_topic_prefixes_are_unique_and_legal() -> None:
    prefixes = {unique_topic_prefix("test_x[param-1]") for _ in range(100)}
    assert len(prefixes) == 100
    for prefix in prefixes:
        assert prefix.startswith("test-x-param-1-")
        assert all(c.isalnum() or c == "-" for c in prefix)


def test_a_service_that_cannot_be_had_errors_with_the_script_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LINKAGE_TEST_REDIS_URL", raising=False)
    script = tmp_path / "services.sh"
    script.write_text(
        "echo 'services: redis-server not found; install it with: sudo apt-get install -y"
        " redis-server' >&2\nexit 1\n"
    )
    layer = ServiceLayer(script=script)
    for _ in range(2):  # the failure is remembered, not retried per test
        with pytest.raises(pytest.fail.Exception, match="sudo apt-get install -y redis-server"):
            layer.url("redis")


def test_env_variables_win_over_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKAGE_TEST_KAFKA_URL", "kafka://example.invalid:9092")
    layer = ServiceLayer(script=Path("/nonexistent/services.sh"))
    assert layer.url("kafka") == "kafka://example.invalid:9092"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.services
def test_services_script_start_is_idempotent_and_stop_stops(tmp_path: Path) -> None:
    """Redis and the broker (the quick ones) in a private state dir, on free ports."""
    ports = {
        "LINKAGE_SERVICES_REDIS_PORT": _free_port(),
        "LINKAGE_SERVICES_KAFKA_PORT": _free_port(),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAGE_TEST_")}
    env.update({k: str(v) for k, v in ports.items()})
    state = tmp_path / "state"

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SERVICES_SCRIPT), *args, "--state-dir", str(state), "redis", "kafka"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )

    try:
        for _ in range(2):
            started = script("start")
            assert started.returncode == 0, started.stderr
        status = script("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("running") == 2
        exports = _parse_exports(script("env").stdout)
        assert exports == {
            "LINKAGE_TEST_REDIS_URL": f"redis://127.0.0.1:{ports['LINKAGE_SERVICES_REDIS_PORT']}/0",
            "LINKAGE_TEST_KAFKA_URL": f"kafka://127.0.0.1:{ports['LINKAGE_SERVICES_KAFKA_PORT']}",
        }
    finally:
        stopped = script("stop")
    assert stopped.returncode == 0, stopped.stderr
    status = script("status")
    assert status.returncode == 3
    assert status.stdout.count("stopped") == 2
