"""A real server for the console tests: the embedded runtime behind uvicorn on a loopback port.

The server runs in its own thread with its own event loop, as it would in production, so that the
browser and the demo talk to it over real HTTP and websockets rather than through a test client.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from command_center.app import create_app
from infra.runtime import Runtime
from infra.settings import Settings
from tests.console.live import LiveServer


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data"))
    config = uvicorn.Config(
        create_app(runtime),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)  # off the main thread it leaves signals alone
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(runtime, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        runtime.close()
