"""What the ``live_server`` fixture (conftest.py) gives a test."""

from __future__ import annotations

from dataclasses import dataclass

from infra.runtime import Runtime


@dataclass(frozen=True)
class LiveServer:
    """A real server on a loopback port, and the runtime behind it (for keys and users)."""

    runtime: Runtime
    base_url: str
