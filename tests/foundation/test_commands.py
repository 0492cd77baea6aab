"""Operator commands on incidents, on both runtimes: state changes, idempotency, permissions."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from infra.runtime import Runtime
from tests.support import DESIGN_EXAMPLE, make_key, make_token


def _open_incident(runtime: Runtime, client: TestClient, token: str) -> dict[str, Any]:
    key = make_key(runtime, "fire")
    with client.websocket_connect(f"/ws/console?token={token}") as socket:
        socket.receive_json()
        client.post("/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers={"X-API-Key": key})
        incident: dict[str, Any] = socket.receive_json()["incident"]
    return incident


def test_acknowledge_reaches_the_console_once_whatever_the_retries(
    runtime: Runtime, client: TestClient
) -> None:
    token = make_token(runtime)
    auth = {"Authorization": f"Bearer {token}"}
    incident = _open_incident(runtime, client, token)
    assert incident["opened_at"].startswith("2023-07-31T00:12:00")  # the call's own time, UTC
    url = f"/api/v1/incidents/{incident['id']}/commands"
    with client.websocket_connect(f"/ws/console?token={token}") as socket:
        socket.receive_json()
        first = client.post(
            url, json={"command": "acknowledge"}, headers=auth | {"Idempotency-Key": "k1"}
        )
        again = client.post(
            url, json={"command": "acknowledge"}, headers=auth | {"Idempotency-Key": "k1"}
        )
        delta = socket.receive_json()
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["status"] == "acknowledged"
    assert first.json()["version"] == incident["version"] + 1 == again.json()["version"]
    assert delta["incident"]["status"] == "acknowledged"
    assert "operator1 acknowledged" in delta["incident"]["explanation"]


def test_commands_change_level_status_and_tasks(runtime: Runtime, client: TestClient) -> None:
    token = make_token(runtime, "cmdr", "commander")
    auth = {"Authorization": f"Bearer {token}"}
    incident = _open_incident(runtime, client, token)
    url = f"/api/v1/incidents/{incident['id']}/commands"

    raised = client.post(
        url, json={"command": "set_level", "level": "II", "reason": "堤坝溃口"}, headers=auth
    )
    assert raised.status_code == 200 and raised.json()["level"] == "II"
    assert "IV → II: 堤坝溃口" in raised.json()["explanation"]

    tasked = client.post(
        url, json={"command": "add_task", "agency": "military", "action": "增援"}, headers=auth
    ).json()
    task = next(t for t in tasked["tasks"] if t["agency"] == "military")
    done = client.post(
        url,
        json={"command": "update_task", "task_id": task["id"], "status": "accepted"},
        headers=auth,
    ).json()
    assert next(t for t in done["tasks"] if t["id"] == task["id"])["status"] == "accepted"

    stale = client.post(url, json={"command": "acknowledge", "expected_version": 1}, headers=auth)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"

    closed = client.post(url, json={"command": "set_status", "status": "closed"}, headers=auth)
    assert closed.json()["status"] == "closed"
    reopen = client.post(url, json={"command": "set_status", "status": "responding"}, headers=auth)
    assert reopen.status_code == 409
    listed = client.get("/api/v1/incidents", headers=auth).json()["items"]
    assert incident["id"] not in [item["id"] for item in listed]
    stored = client.get(f"/api/v1/incidents/{incident['id']}", headers=auth).json()
    assert stored["status"] == "closed" and stored["level"] == "II"


def test_bad_commands_are_refused_clearly(runtime: Runtime, client: TestClient) -> None:
    token = make_token(runtime)
    auth = {"Authorization": f"Bearer {token}"}
    incident = _open_incident(runtime, client, token)
    url = f"/api/v1/incidents/{incident['id']}/commands"
    assert client.post(url, json={"command": "acknowledge"}).status_code == 401
    no_reason = client.post(url, json={"command": "set_level", "level": "I"}, headers=auth)
    assert no_reason.status_code == 422
    assert any("reason" in d["loc"] for d in no_reason.json()["error"]["details"])
    unknown = client.post(url, json={"command": "explode"}, headers=auth)
    assert unknown.status_code == 422
    bad_agency = client.post(
        url, json={"command": "add_task", "agency": "nobody", "action": "x"}, headers=auth
    )
    assert bad_agency.status_code == 422
    missing = client.post(
        "/api/v1/incidents/nope/commands", json={"command": "acknowledge"}, headers=auth
    )
    assert missing.status_code == 404


def test_roles_limit_what_a_user_may_command(runtime: Runtime, client: TestClient) -> None:
    operator = make_token(runtime)
    incident = _open_incident(runtime, client, operator)
    url = f"/api/v1/incidents/{incident['id']}/commands"
    duty = {"Authorization": f"Bearer {make_token(runtime, 'duty1', 'duty')}"}
    refused = client.post(
        url, json={"command": "set_level", "level": "I", "reason": "x"}, headers=duty
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.post(url, json={"command": "acknowledge"}, headers=duty).status_code == 200
