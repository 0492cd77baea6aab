"""The demo replay: credentials it makes and reuses, retries, and a run against a live server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.runtime import Runtime
from infra.settings import Settings
from streams import demo
from streams.demo import DemoPlayer, Scenario, load_scenario, prepare_credentials
from tests.console.live import LiveServer


@pytest.fixture
def runtime(tmp_path: Path) -> Any:
    runtime = Runtime.open(Settings(data_dir=tmp_path))
    yield runtime
    runtime.close()


def test_credentials_are_reused_across_restarts(runtime: Runtime) -> None:
    needs = load_scenario().agency_domains()
    first = prepare_credentials(runtime, needs)
    again = prepare_credentials(runtime, needs)
    assert (again.username, again.password, again.keys) == (
        first.username,
        first.password,
        first.keys,
    )
    assert set(first.keys) == {"fire", "public-security", "health", "water", "meteorology"}
    stored = runtime.settings.data_dir / demo.CREDENTIALS_FILE
    assert stored.stat().st_mode & 0o077 == 0, "password and keys: owner only"

    # A lost credentials file: same user, a fresh password that works, fresh keys.
    stored.unlink()
    third = prepare_credentials(runtime, needs)
    assert third.username == first.username and third.password != first.password
    assert third.keys["fire"] != first.keys["fire"]


def _tiny_scenario() -> Scenario:
    full = load_scenario()
    calls = [item for item in full.items if item.event["type"] == "call"][:2]
    return Scenario(full.name, full.start, full.end, tuple(calls))


async def test_failed_posts_are_retried_with_backoff_and_refusals_are_not() -> None:
    answers = [503, 202, 422]
    seen: list[str] = []
    sleeps: list[float] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["source_id"])
        status = answers.pop(0)
        if status == 202:
            return httpx.Response(202, json={"accepted": 1, "duplicates": 0, "ids": ["x"]})
        return httpx.Response(status, json={"error": {"code": "x", "message": f"said {status}"}})

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    scenario = _tiny_scenario()
    keys = {"fire": "k1", "public-security": "k2", "health": "k3"}
    player = DemoPlayer(scenario, "http://linkage.test", keys, sleep=sleep)
    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as client:
        stats = await player.run(client)
    first, second = (item.event["source_id"] for item in scenario.items)
    assert seen == [first, first, second], "503 retried with the same source id; 422 not retried"
    assert stats.accepted == 1 and stats.failed == 1 and stats.done
    assert "said 422" in stats.errors[0]
    assert sleeps[0] == 0.5, "the first retry waits the first backoff step"


async def test_demo_feeds_a_live_server(
    live_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = live_server.base_url
    await demo.start_demo(live_server.runtime, base, speed=1e7, max_gap_s=0.01)
    try:
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert f"{base}/console/#token=" in line and demo.DEMO_USER in line
        token = line.split("#token=")[1]
        player = demo.started_players()[-1]

        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 15
            items: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                answer = await client.get(
                    "/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 200, answer.text
                items = answer.json()["items"]
                if player.stats.done and items:
                    break
                await asyncio.sleep(0.2)
        assert player.stats.accepted == len(load_scenario().items), player.stats.errors
        assert player.stats.failed == 0
        assert items, "the calls of the scenario opened incidents"
        assert {item["level"] for item in items} <= {"I", "II", "III", "IV"}
    finally:
        await demo.stop_demo()
