"""Shared fixtures of the intake tests: the reference data lives in ``shared/`` beside the repo."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
CAP_EXAMPLES = SHARED_DATA / "cap" / "examples"
FEEDS = SHARED_DATA / "feeds"
MAX_BYTES = 1 << 20


def shared_file(*parts: str) -> bytes:
    path = SHARED_DATA.joinpath(*parts)
    assert path.is_file(), f"reference data missing: {path} (shared/ must sit beside the repo)"
    return path.read_bytes()


def cap_example(name: str) -> bytes:
    return shared_file("cap", "examples", name)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Python-level connections fail the test. libxml2 opens its own sockets, out of reach of
    this patch: ``test_cap_hostile.test_libxml2_fetches_nothing`` covers that with a server."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
