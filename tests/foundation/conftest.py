"""Fixtures of the foundation tests: one runtime per backend family, and a client over it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from command_center.app import create_app
from infra.runtime import Runtime
from infra.settings import Settings, StreamSettings


@pytest.fixture(params=["embedded", pytest.param("distributed", marks=pytest.mark.services)])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    streams = StreamSettings()
    if request.param == "embedded":
        settings = Settings(data_dir=tmp_path, max_body_bytes=64 * 1024)
    else:
        unique = uuid.uuid4().hex[:10]
        settings = Settings(
            data_dir=tmp_path,
            max_body_bytes=64 * 1024,
            database_url=request.getfixturevalue("migrated_postgis_url"),
            bus_url=request.getfixturevalue("kafka_url"),
            pubsub_url=request.getfixturevalue("redis_url"),
        )
        streams = StreamSettings(
            app_id=f"slice-{unique}", topic_prefix=f"slice-{unique}", session_timeout_seconds=6
        )
    runtime = Runtime.open(settings, streams)
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, run_pipeline=True)) as client:
        yield client
