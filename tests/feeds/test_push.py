"""`linkage feed push` against a live `linkage run` server, both real processes, on the shared
CAP, NWS and USGS files and on NDJSON: the summary, the exit code and what got stored."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from infra.db.models import FeedReceiptRow
from tests.feeds.conftest import SHARED_DATA
from tests.processes import LINKAGE, REPO, background, free_port, linkage, wait_healthy
from tests.support import DESIGN_EXAMPLE

ALL_DOMAINS = "incident,flood,health,safety,warning,resource"
FEED_PUSH = [*LINKAGE, "feed", "push"]


@dataclass(frozen=True)
class Server:
    url: str
    env: dict[str, str]
    database: Engine
    keys: dict[str, str]

    def push(self, *args: str, key: str = "all") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FEED_PUSH, *args, "--url", self.url, "--key", self.keys[key]],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )

    def push_json(self, *args: str, key: str = "all") -> tuple[int, dict[str, Any]]:
        done = self.push(*args, "--json", key=key)
        assert done.stdout.strip().startswith("{"), done.stdout + done.stderr
        return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("push")
    env = {
        "LINKAGE_DATA_DIR": str(home / "data"),
        "LINKAGE_LOG_LEVEL": "WARNING",
        # A small budget for one agency, to see the tool wait out 429s.
        "LINKAGE_INTAKE_BURST": "2000",
        "LINKAGE_INTAKE_AGENCY_RATES": '{"fire": 1500}',
    }
    for name in ("LINKAGE_DATABASE_URL", "LINKAGE_BUS_URL", "LINKAGE_PUBSUB_URL"):
        env[name] = {"LINKAGE_BUS_URL": "memory://", "LINKAGE_PUBSUB_URL": "memory://"}.get(
            name, f"sqlite:///{home / 'data' / 'linkage.sqlite3'}"
        )
    keys = {
        "all": linkage("keys", "create", "meteorology", "--domains", ALL_DOMAINS, env=env),
        "fire": linkage("keys", "create", "fire", env=env),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "server.log"
    database = create_engine(env["LINKAGE_DATABASE_URL"])
    with background("run", "--no-demo", "--port", str(port), env=env, log=log) as process:
        wait_healthy(url, process, log, timeout=60)
        yield Server(
            url,
            env,
            database,
            {name: done.stdout.strip().splitlines()[-1] for name, done in keys.items()},
        )
    database.dispose()


def stored(server: Server, prefix: str) -> int:
    with server.database.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM events WHERE source_id LIKE :p"), {"p": f"{prefix}%"}
            ).scalar_one()
        )


def test_cap_examples_directory(server: Server) -> None:
    code, summary = server.push_json(str(SHARED_DATA / "cap" / "examples"), "--domain", "warning")
    assert code == 1  # two real alerts are refused, as the data README says
    assert (summary["files"], summary["accepted"], summary["duplicates"]) == (17, 34, 0)
    assert summary["failed"] == 0
    refused = {Path(r["file"]).name: r["reason"] for r in summary["refusals"]}
    assert set(refused) == {"sweden.cap", "invalid_xmlns.cap"}
    assert "senderName" in refused["sweden.cap"] and "line 17" in refused["sweden.cap"]

    again = server.push(str(SHARED_DATA / "cap" / "examples"), "--domain", "warning")
    assert again.returncode == 1
    first_line = again.stdout.splitlines()[0]
    assert "0 accepted, 34 duplicate(s), 2 refused, 0 failed" in first_line, again.stdout
    assert "sweden.cap" in again.stdout


def test_nws_and_usgs_feeds(server: Server) -> None:
    feeds = SHARED_DATA / "feeds"
    code, summary = server.push_json(
        str(feeds / "nws-alerts"),
        str(feeds / "usgs-earthquakes" / "significant_month.geojson"),
        "--domain",
        "warning",
    )
    assert code == 1
    # The zone alert and 18 earthquakes get in (profiles guessed from the content); the Cedar
    # Rapids feed's 48 alerts carry placeholder times and are refused one by one.
    assert (summary["accepted"], summary["refused"], summary["failed"]) == (19, 48, 0)
    assert all("date:now" in r["reason"] for r in summary["refusals"])
    assert sorted({r["index"] for r in summary["refusals"]}) == list(range(48))

    quakes = str(feeds / "usgs-earthquakes" / "significant_month.geojson")
    code, summary = server.push_json(quakes, "--domain", "warning", "--profile", "usgs-earthquakes")
    assert code == 0 and (summary["accepted"], summary["duplicates"]) == (0, 18)
    deadline = time.monotonic() + 20
    while not stored(server, "us6000len8") and time.monotonic() < deadline:
        time.sleep(0.1)
    with server.database.connect() as connection:
        rows = connection.execute(
            text("SELECT domain, type, severity FROM events WHERE source_id = 'us6000len8'")
        ).all()
    assert [tuple(row) for row in rows] == [("warning", "earthquake", "extreme")]


def write_ndjson(path: Path, count: int, prefix: str) -> None:
    with path.open("w", encoding="utf-8") as sink:
        for n in range(count):
            event = copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": f"{prefix}-{n}"}
            event["geometry"]["coordinates"] = [115.0 + n * 0.0005, 39.0 + (n % 7) * 0.01]
            if n == 700:
                event["data"]["people_trapped"] = -1  # refused alone; its batch still gets in
            sink.write(json.dumps(event, ensure_ascii=False) + "\n")
            if n == 300:
                sink.write('{"source_id": "torn\n')  # a torn line, refused locally
            if n == 900:
                sink.write("\n")


def test_ndjson_batches_with_bad_records(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "calls.ndjson"
    write_ndjson(path, 1200, "nd")
    code, summary = server.push_json(str(path), "--domain", "incident", "--batch-size", "250")
    assert code == 1
    assert (summary["accepted"], summary["duplicates"], summary["refused"]) == (1199, 0, 2)
    torn, invalid = sorted(summary["refusals"], key=lambda r: r["index"])
    assert torn["index"] == 302 and "not JSON" in torn["reason"]
    assert invalid["index"] == 702 and invalid["source_id"] == "nd-700"
    assert "data.people_trapped" in invalid["reason"]
    with server.database.connect() as connection:
        receipts = connection.execute(
            select(func.count())
            .select_from(FeedReceiptRow)
            .where(FeedReceiptRow.source_id.like("nd-%"))
        ).scalar_one()
    assert receipts == 1199
    deadline = time.monotonic() + 30
    while stored(server, "nd-") < 1199 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored(server, "nd-") == 1199


def test_retries_wait_out_the_rate_limit(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "burst.json"
    events = [copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": f"burst-{n}"} for n in range(3500)]
    path.write_text(json.dumps(events, ensure_ascii=False), encoding="utf-8")
    started = time.monotonic()
    code, summary = server.push_json(str(path), "--domain", "incident", key="fire")
    # 2,000 events of burst, then 1,500 a second: the tool is told 429 + Retry-After and waits.
    assert code == 0, summary
    assert (summary["accepted"], summary["refused"], summary["failed"]) == (3500, 0, 0)
    assert time.monotonic() - started >= 1.0


def test_unknown_files_and_wrong_key(server: Server, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a feed")
    (tmp_path / "one.json").write_text(json.dumps(DESIGN_EXAMPLE | {"source_id": "solo"}))
    done = server.push(str(tmp_path), "--domain", "incident")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 accepted" in done.stdout and "notes.txt" in done.stdout

    server.keys["wrong"] = "lk_wrong"
    code, summary = server.push_json(
        str(tmp_path / "one.json"), "--domain", "incident", key="wrong"
    )
    assert code == 1
    failure = summary["failures"][0]
    assert "401" in failure["reason"] and "invalid or revoked" in failure["reason"]
