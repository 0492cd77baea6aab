"""The thin slice, POST → normalize → store → incident → websocket, on both runtimes.

Every test here runs twice: on the embedded runtime (SQLite, in-process bus and pub/sub) and on
the distributed backends (PostGIS, the Kafka-protocol broker, Redis), with the pipeline run
in-process over the Kafka bus. The faust worker path is exercised by test_slice_distributed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infra.db.models import EventRow, FeedReceiptRow, IncidentRow
from infra.runtime import Runtime
from streams.domain import Domain
from tests.support import DESIGN_EXAMPLE, make_key, make_token


def _count(runtime: Runtime, column: Any) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count(column))) or 0)


def test_design_example_reaches_the_console_and_the_store(
    runtime: Runtime, client: TestClient
) -> None:
    key = make_key(runtime, "fire")
    token = make_token(runtime)
    with client.websocket_connect(f"/ws/console?token={token}") as socket:
        snapshot = socket.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["incidents"] == []

        answer = client.post(
            "/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers={"X-API-Key": key}
        )
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["accepted"] == 1 and body["duplicates"] == 0 and len(body["ids"]) == 1
        event_id = body["ids"][0]

        delta = socket.receive_json()
    assert delta["type"] == "delta" and delta["kind"] == "incident"
    assert delta["seq"] > snapshot["seq"]
    incident = delta["incident"]
    assert incident["category"] == "rescue"
    assert incident["level"] in {"I", "II", "III", "IV"}
    assert incident["status"] == "new"
    assert incident["event_ids"] == [event_id]
    assert incident["county"] == "130681"  # 涿州市: the example's point lies in Zhuozhou
    assert incident["geometry"] == {"type": "Point", "coordinates": [115.974, 39.486]}
    assert "people_trapped" not in incident["explanation"] or incident["explanation"]
    assert {task["agency"] for task in incident["tasks"]} >= {"fire"}

    listed = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [incident["id"]]
    one = client.get(
        f"/api/v1/incidents/{incident['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert one.json()["event_ids"] == [event_id]

    with runtime.sessions() as session:
        event = session.get(EventRow, event_id)
        assert event is not None
        assert (event.agency, event.source_id, event.domain) == (
            "fire",
            "110-20230731-0001",
            "incident",
        )
        assert event.incident_id == incident["id"] and event.county == "130681"
        assert event.attributes["people_trapped"] == 6
        assert event.geometry is not None and event.geometry.equals_exact(
            __import__("shapely").Point(115.974, 39.486), 1e-9
        )
        receipt = session.get(FeedReceiptRow, event_id)
        assert receipt is not None and receipt.processed_at is not None


def test_the_same_event_twice_is_stored_once(runtime: Runtime, client: TestClient) -> None:
    key = make_key(runtime, "fire")
    token = make_token(runtime)
    first = client.post("/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers={"X-API-Key": key})
    with client.websocket_connect(f"/ws/console?token={token}") as socket:
        snapshot = socket.receive_json()
        # Wait until the first event is processed: it is in the snapshot or comes as a delta.
        if not snapshot["incidents"]:
            assert socket.receive_json()["type"] == "delta"
    second = client.post("/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers={"X-API-Key": key})
    assert first.status_code == second.status_code == 202
    assert second.json() == {"accepted": 0, "duplicates": 1, "ids": first.json()["ids"]}
    # A batch repeating one event inside itself counts it once, too.
    other = copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": "110-20230731-0002"}
    third = client.post("/api/v1/feeds/incident", json=[other, other], headers={"X-API-Key": key})
    assert third.json()["accepted"] == 1 and third.json()["duplicates"] == 1
    assert _count(runtime, FeedReceiptRow.event_id) == 2


def test_nearby_calls_about_one_rescue_make_one_incident(
    runtime: Runtime, client: TestClient
) -> None:
    key = make_key(runtime, "fire")
    token = make_token(runtime)
    calls = []
    for n, (lon, trapped) in enumerate([(115.974, 6), (115.976, 12), (115.975, 3)]):
        call = copy.deepcopy(DESIGN_EXAMPLE)
        call["source_id"] = f"119-near-{n}"
        call["geometry"]["coordinates"] = [lon, 39.486]
        call["data"]["people_trapped"] = trapped
        calls.append(call)
    far = copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": "119-far"}
    far["geometry"] = {"type": "Point", "coordinates": [114.51, 38.04]}  # Shijiazhuang
    with client.websocket_connect(f"/ws/console?token={token}") as socket:
        socket.receive_json()
        answer = client.post(
            "/api/v1/feeds/incident", json=[*calls, far], headers={"X-API-Key": key}
        )
        assert answer.json()["accepted"] == 4
        seen: dict[str, dict[str, Any]] = {}
        while sum(len(i["event_ids"]) for i in seen.values()) < 4:
            message = socket.receive_json()
            seen[message["incident"]["id"]] = message["incident"]
    assert len(seen) == 2
    near = next(i for i in seen.values() if len(i["event_ids"]) == 3)
    assert near["level"] == "III"  # 12 trapped reaches the 10-trapped threshold
    assert "12" in near["explanation"]
    assert _count(runtime, IncidentRow.id) == 2


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [({}, 401, "unauthenticated"), ({"X-API-Key": "lk_wrong"}, 401, "unauthenticated")],
)
def test_missing_or_wrong_key_is_401(
    runtime: Runtime, client: TestClient, headers: dict[str, str], status: int, code: str
) -> None:
    answer = client.post("/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers=headers)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert _count(runtime, FeedReceiptRow.event_id) == 0


def test_bad_input_is_refused_clearly_and_nothing_is_stored(
    runtime: Runtime, client: TestClient
) -> None:
    key = make_key(runtime, "fire")
    headers = {"X-API-Key": key}

    def post(path: str, content: bytes, content_type: str = "application/json") -> Any:
        return client.post(path, content=content, headers=headers | {"Content-Type": content_type})

    unknown = post("/api/v1/feeds/volcano", json.dumps(DESIGN_EXAMPLE).encode())
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"

    malformed = post("/api/v1/feeds/incident", b'{"source_id": ')
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_input"

    nan = post(
        "/api/v1/feeds/incident", json.dumps(DESIGN_EXAMPLE).replace("115.974", "NaN").encode()
    )
    assert nan.status_code == 400

    deep = post("/api/v1/feeds/incident", b"[" * 100_000 + b"]" * 100_000)
    assert deep.status_code in (400, 413)

    missing = copy.deepcopy(DESIGN_EXAMPLE)
    del missing["occurred_at"]
    schema = post("/api/v1/feeds/incident", json.dumps(missing).encode())
    assert schema.status_code == 422
    error = schema.json()["error"]
    assert error["code"] == "validation_failed"
    assert any(d["loc"][-1] == "occurred_at" for d in error["details"])

    naive = copy.deepcopy(DESIGN_EXAMPLE) | {"occurred_at": "2023-07-31T08:12:00"}
    assert post("/api/v1/feeds/incident", json.dumps(naive).encode()).status_code == 422

    outside = copy.deepcopy(DESIGN_EXAMPLE)
    outside["geometry"]["coordinates"] = [115.974, 139.486]
    assert post("/api/v1/feeds/incident", json.dumps(outside).encode()).status_code in (202, 422)

    huge = copy.deepcopy(DESIGN_EXAMPLE)
    huge["data"]["description"] = "水" * 100_000
    too_big = post("/api/v1/feeds/incident", json.dumps(huge).encode())
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"

    xml = post("/api/v1/feeds/incident", b"<a/>", "text/plain")
    assert xml.status_code == 415

    wrong_domain = post("/api/v1/feeds/flood", json.dumps(DESIGN_EXAMPLE).encode())
    assert wrong_domain.status_code == 403 and wrong_domain.json()["error"]["code"] == "forbidden"

    assert _count(runtime, FeedReceiptRow.event_id) == 0
    # The server still serves.
    fine = client.post("/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers=headers)
    assert fine.status_code == 202


def test_console_refuses_without_a_token(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/ws/console?token=nope") as ws,
    ):
        ws.receive_json()


def test_healthz_and_metrics(runtime: Runtime, client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    checks = health.json()["checks"]
    assert all(check["ok"] for check in checks.values())
    assert checks["pipeline"]["backend"] == "embedded-pipeline"
    kinds = (checks["database"]["backend"], checks["bus"]["backend"], checks["pubsub"]["backend"])
    assert kinds in {("sqlite", "memory", "memory"), ("postgresql", "kafka", "redis")}
    key = make_key(runtime, "fire", [Domain.INCIDENT])
    client.post("/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers={"X-API-Key": key})
    metrics = client.get("/metrics").text
    assert 'linkage_events_in_total{domain="incident"} 1.0' in metrics
    assert "linkage_events_processed_total" in metrics and "linkage_pipeline_lag" in metrics
