"""Helpers shared by tests: a ready runtime, keys and users, waiting on the console."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from command_center.auth import authenticate, create_key, create_user, issue_token, signing_secret
from infra.runtime import Runtime
from streams.domain import Domain

T = TypeVar("T")

# The DESIGN.md example: this exact call must be accepted as it stands.
DESIGN_EXAMPLE: dict[str, Any] = {
    "source_id": "110-20230731-0001",
    "type": "call",
    "occurred_at": "2023-07-31T08:12:00+08:00",
    "geometry": {"type": "Point", "coordinates": [115.974, 39.486]},
    "crs": "EPSG:4326",
    "data": {
        "channel": "119",
        "category": "rescue",
        "description": "居民被困，水位上涨",
        "people_trapped": 6,
    },
}

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_key(runtime: Runtime, agency: str, domains: list[Domain] | None = None) -> str:
    with runtime.sessions() as session, session.begin():
        key, _row = create_key(session, agency, domains)
    return key


def make_token(runtime: Runtime, username: str = "operator1", role: str = "operator") -> str:
    password = "correct horse battery"
    with runtime.sessions() as session, session.begin():
        create_user(session, username, role, password)
        user = authenticate(session, username, password)
        secret = signing_secret(session, runtime.settings.secret_key)
    return issue_token(user, secret, 3600)


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
