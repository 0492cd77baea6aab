"""The intake ledger on PostgreSQL (the distributed runtime's storage): the same answers as on
SQLite, the record stored as JSONB, concurrent requests grouped without losing or doubling."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from command_center.app import create_app
from infra.db.models import FeedReceiptRow
from infra.runtime import Runtime
from infra.settings import Settings
from streams.domain import event_id_for
from tests.support import DESIGN_EXAMPLE, make_key

pytestmark = pytest.mark.services


def event(source_id: str) -> dict[str, Any]:
    return copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": source_id}


def test_postgres_ledger(tmp_path: Path, postgis_url: str) -> None:
    runtime = Runtime.open(Settings(data_dir=tmp_path, database_url=postgis_url))
    try:
        headers = {"X-API-Key": make_key(runtime, "fire")}
        with TestClient(create_app(runtime, run_pipeline=False)) as client:

            def post(body: Any) -> dict[str, Any]:
                answer = client.post("/api/v1/feeds/incident", json=body, headers=headers)
                assert answer.status_code == 202, answer.text
                return dict(answer.json())

            first = post([event("pg-1"), event("pg-2"), event("pg-1")])
            assert (first["accepted"], first["duplicates"]) == (2, 1)
            # Twenty requests at once, overlapping: each event is new exactly once.
            batches = [[event(f"pg-c{n}"), event(f"pg-c{n + 1}")] for n in range(20)]
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(post, batches))
            assert sum(a["accepted"] for a in answers) == 21
            assert sum(a["duplicates"] for a in answers) == 19
        with runtime.sessions() as session:
            # The database is shared by the session's tests: look at this test's rows only.
            mine = select(FeedReceiptRow).where(FeedReceiptRow.source_id.like("pg-%"))
            rows = {row.source_id: row for row in session.scalars(mine)}
        assert len(rows) == 23
        record = rows["pg-1"].record
        assert record["event_id"] == event_id_for("fire", "pg-1")
        assert record["envelope"]["data"]["people_trapped"] == 6
        assert rows["pg-1"].received_at.tzinfo is not None
    finally:
        runtime.close()
