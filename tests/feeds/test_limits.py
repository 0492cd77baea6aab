"""Per-agency rate limits, counted in events: in-process and shared through the real Redis."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from command_center.app import create_app
from command_center.ratelimit import (
    IntakeLimits,
    MemoryRateLimiter,
    RedisRateLimiter,
    make_limiter,
)
from infra.errors import RateLimited
from infra.runtime import Runtime
from infra.settings import Settings
from tests.processes import free_port
from tests.support import DESIGN_EXAMPLE, make_key


def events(prefix: str, count: int) -> list[dict[str, Any]]:
    return [copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": f"{prefix}-{n}"} for n in range(count)]


def test_bucket_arithmetic() -> None:
    limiter = MemoryRateLimiter(IntakeLimits(rate_per_second=10, burst=20))
    assert limiter.decide("fire", 15, now=0).allowed
    refused = limiter.decide("fire", 15, now=0)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(1.0)
    assert limiter.decide("fire", 15, now=1.0).allowed  # refilled 10 tokens in a second
    assert limiter.decide("water", 20, now=1.0).allowed  # every agency has its own bucket
    # A batch bigger than the burst gets in on a full bucket and leaves a debt to repay.
    assert limiter.decide("police", 50, now=0).allowed
    owed = limiter.decide("police", 1, now=0)
    assert not owed.allowed and owed.retry_after_s == pytest.approx(3.1)
    assert limiter.decide("police", 1, now=3.1).allowed
    overridden = MemoryRateLimiter(IntakeLimits(rate_per_second=1, burst=1, agency_rates={"a": 4}))
    overridden.decide("a", 1, now=0)
    assert overridden.decide("a", 1, now=0).retry_after_s == pytest.approx(0.25)


def test_limits_come_from_their_own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKAGE_INTAKE_RATE_PER_SECOND", "123.5")
    monkeypatch.setenv("LINKAGE_INTAKE_BURST", "7")
    monkeypatch.setenv("LINKAGE_INTAKE_AGENCY_RATES", '{"water": 900}')
    limits = IntakeLimits()
    assert (limits.rate_per_second, limits.burst, limits.rate_for("water")) == (123.5, 7, 900)
    assert isinstance(make_limiter(Settings(), limits), MemoryRateLimiter)
    assert isinstance(make_limiter(Settings(pubsub_url="redis://127.0.0.1:1/0")), RedisRateLimiter)


@pytest.fixture
def limited_app(tmp_path: Path) -> Iterator[tuple[Runtime, FastAPI]]:
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data"))
    app = create_app(runtime, run_pipeline=False)  # limits only: no pipeline needed
    app.state.intake_limits = IntakeLimits(rate_per_second=5, burst=20)
    yield runtime, app
    runtime.close()


def test_http_answers_429_with_retry_after(limited_app: tuple[Runtime, FastAPI]) -> None:
    runtime, app = limited_app
    fire, water = make_key(runtime, "fire"), make_key(runtime, "public-security")
    with TestClient(app) as client:

        def post(key: str, body: Any) -> Any:
            return client.post("/api/v1/feeds/incident", json=body, headers={"X-API-Key": key})

        assert post(fire, events("a", 15)).status_code == 202
        refused = post(fire, events("b", 15))
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 2  # 10 tokens short at 5 per second
        error = refused.json()["error"]
        assert error["code"] == "rate_limited" and "fire" in error["message"]
        assert post(water, events("c", 15)).status_code == 202  # another agency's budget
        # Garbage costs too, so a broken client is slowed down the same way.
        assert post(water, [{"broken": True}]).status_code == 422
        for _ in range(5):
            post(water, [{"broken": True}])
        assert post(water, [{"broken": True}]).status_code == 429


@pytest.mark.services
async def test_redis_buckets_are_shared_between_servers(redis_url: str) -> None:
    limits = IntakeLimits(rate_per_second=0.5, burst=20, redis_prefix=f"t-{uuid.uuid4().hex}")
    server_a, server_b = RedisRateLimiter(redis_url, limits), RedisRateLimiter(redis_url, limits)
    try:
        await server_a.take("fire", 15)
        with pytest.raises(RateLimited) as caught:
            await server_b.take("fire", 15)
        assert caught.value.retry_after is not None and caught.value.retry_after >= 20
        await server_b.take("water", 20)
        # Many servers at once, one event each: the script is atomic, so exactly the 5 tokens
        # left are handed out.
        outcomes = await asyncio.gather(
            *(limiter.take("fire", 1) for limiter in [server_a, server_b] * 10),
            return_exceptions=True,
        )
        assert sum(outcome is None for outcome in outcomes) == 5
        assert all(isinstance(o, RateLimited) for o in outcomes if o is not None)
    finally:
        await server_a.close()
        await server_b.close()


@pytest.mark.services
def test_http_uses_redis_when_pubsub_is_redis(tmp_path: Path, redis_url: str) -> None:
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data", pubsub_url=redis_url))
    try:
        app = create_app(runtime, run_pipeline=False)  # limits only: no pipeline needed
        app.state.intake_limits = IntakeLimits(
            rate_per_second=1, burst=10, redis_prefix=f"t-{uuid.uuid4().hex}"
        )
        key = make_key(runtime, "fire")
        with TestClient(app) as client:
            assert isinstance(app.state.intake_limiter, RedisRateLimiter)
            headers = {"X-API-Key": key}
            ok = client.post("/api/v1/feeds/incident", json=events("r", 10), headers=headers)
            assert ok.status_code == 202
            over = client.post("/api/v1/feeds/incident", json=events("s", 5), headers=headers)
            assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 5
    finally:
        runtime.close()


async def test_redis_down_lets_feeds_in() -> None:
    limiter = RedisRateLimiter(
        f"redis://127.0.0.1:{free_port()}/0", IntakeLimits(rate_per_second=1, burst=1)
    )
    try:
        await limiter.take("fire", 100)  # no Redis: logged, not refused
    finally:
        await limiter.close()
