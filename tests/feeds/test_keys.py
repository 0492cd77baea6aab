"""Agency keys: created, listed, rotated with a grace period and revoked, by CLI and by HTTP; an
agency pushes only as itself and only into the domains its key allows."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from command_center.auth import KeyCache
from infra.cli import app as cli
from infra.db.models import FeedReceiptRow
from infra.runtime import Runtime
from streams.domain import Domain, event_id_for
from tests.intake.test_cap_documents import bare, edxl
from tests.support import DESIGN_EXAMPLE, make_key, make_token

FEED = "/api/v1/feeds/incident"


def receipts(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count(FeedReceiptRow.event_id))) or 0)


def test_cli_keys_create_list_rotate_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LINKAGE_DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: str) -> list[str]:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output.strip().splitlines()

    created = run("keys", "create", "fire", "--domains", "incident")
    key = created[-1]
    assert key.startswith("lk_") and " " not in key
    key_id = created[0].split()[1]

    listing = "\n".join(run("keys", "list"))
    assert key_id in listing and "fire" in listing and "incident" in listing
    assert key not in listing and key[:10] in listing  # the prefix, never the key

    rotated = run("keys", "rotate", key_id, "--grace-seconds", "3600")
    new_key = rotated[-1]
    assert new_key.startswith("lk_") and new_key != key
    assert "replaces" in rotated[0] and "incident" in rotated[0]
    listing = run("keys", "list", "--agency", "fire")
    assert len(listing) == 3 and "(grace)" in listing[1] + listing[2]
    assert run("keys", "list", "--agency", "water")[0].split() == listing[0].split()  # header

    from command_center.auth import verify_key
    from infra.db.engine import make_engine, make_sessionmaker
    from infra.settings import Settings

    sessions = make_sessionmaker(make_engine(Settings()))
    with sessions() as session:
        assert verify_key(session, key).agency == "fire"  # still inside its grace period
        assert verify_key(session, new_key).domains == frozenset({Domain.INCIDENT})

    run("keys", "revoke", key_id)
    with sessions() as session:
        from infra.errors import AuthenticationFailed

        with pytest.raises(AuthenticationFailed):
            verify_key(session, key)
        assert verify_key(session, new_key).agency == "fire"

    refused = runner.invoke(cli, ["keys", "rotate", key_id])
    assert refused.exit_code != 0 and "revoked" in str(refused.exception)


def test_admin_api_manages_keys(
    runtime: Runtime,
    app: FastAPI,
    client: TestClient,
    admin: dict[str, str],
    operator: dict[str, str],
) -> None:
    assert client.get("/api/v1/admin/keys").status_code == 401
    assert client.get("/api/v1/admin/keys", headers=operator).status_code == 403

    created = client.post(
        "/api/v1/admin/keys", json={"agency": "water", "domains": ["flood"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key, key_id = body["key"], body["id"]
    assert body["domains"] == ["flood"] and body["state"] == "active"

    listed = client.get("/api/v1/admin/keys?agency=water", headers=admin).json()["items"]
    assert [item["id"] for item in listed] == [key_id]
    assert "key" not in listed[0] and "key_hash" not in listed[0]

    bad = client.post(
        "/api/v1/admin/keys", json={"agency": "water", "domains": ["volcano"]}, headers=admin
    )
    assert bad.status_code == 422 and "volcano" in bad.json()["error"]["message"]
    unknown = client.post("/api/v1/admin/keys", json={"agency": "nasa"}, headers=admin)
    assert unknown.status_code == 404 and "known agencies" in unknown.json()["error"]["message"]
    extra = client.post("/api/v1/admin/keys", json={"agency": "water", "x": 1}, headers=admin)
    assert extra.status_code == 422 and extra.json()["error"]["details"][0]["loc"][-1] == "x"

    rotated = client.post(
        f"/api/v1/admin/keys/{key_id}/rotate", json={"grace_seconds": 3600}, headers=admin
    )
    assert rotated.status_code == 201, rotated.text
    new_key = rotated.json()["key"]
    assert rotated.json()["replaces"]["state"] == "expiring"
    assert rotated.json()["domains"] == ["flood"]

    gauge = {
        "source_id": "gauge-1",
        "type": "river_gauge",
        "occurred_at": "2023-07-31T08:00:00+08:00",
        "geometry": {"type": "Point", "coordinates": [116.0, 39.0]},
        "data": {"station_id": "30100100", "station_name": "白沟", "water_level_m": 9.1},
    }

    def push(with_key: str, source_id: str) -> int:
        event = gauge | {"source_id": source_id}
        answer = client.post("/api/v1/feeds/flood", json=event, headers={"X-API-Key": with_key})
        return answer.status_code

    assert push(key, "g-old") == 202  # the old key works during its grace period
    assert push(new_key, "g-new") == 202

    revoked = client.post(f"/api/v1/admin/keys/{key_id}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    app.state.key_cache = KeyCache()  # what any server sees once its 10-second cache has turned
    assert push(key, "g-old-2") == 401
    assert push(new_key, "g-new-2") == 202
    again = client.post(f"/api/v1/admin/keys/{key_id}/rotate", headers=admin)
    assert again.status_code == 409
    missing = client.post("/api/v1/admin/keys/nope/revoke", headers=admin)
    assert missing.status_code == 404


def test_rotated_key_stops_at_the_end_of_its_grace(
    runtime: Runtime, app: FastAPI, client: TestClient, admin: dict[str, str]
) -> None:
    created = client.post("/api/v1/admin/keys", json={"agency": "fire"}, headers=admin).json()
    client.post(
        f"/api/v1/admin/keys/{created['id']}/rotate", json={"grace_seconds": 1}, headers=admin
    )
    import time

    time.sleep(1.1)
    answer = client.post(FEED, json=DESIGN_EXAMPLE, headers={"X-API-Key": created["key"]})
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


def test_the_agency_comes_from_the_key_only(runtime: Runtime, client: TestClient) -> None:
    fire = make_key(runtime, "fire")
    forged = copy.deepcopy(DESIGN_EXAMPLE) | {"agency": "public-security"}
    answer = client.post(FEED, json=forged, headers={"X-API-Key": fire})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["details"][0]["loc"] == [0, "agency"]
    assert "not permitted" in error["details"][0]["msg"]
    inside = copy.deepcopy(DESIGN_EXAMPLE)
    inside["data"]["agency"] = "public-security"
    assert client.post(FEED, json=inside, headers={"X-API-Key": fire}).status_code == 422
    assert receipts(runtime) == 0

    accepted = client.post(FEED, json=DESIGN_EXAMPLE, headers={"X-API-Key": fire}).json()
    assert accepted["ids"] == [event_id_for("fire", DESIGN_EXAMPLE["source_id"])]
    # The same source id from another agency is another event, not a duplicate of fire's.
    police = make_key(runtime, "public-security")
    other = client.post(FEED, json=DESIGN_EXAMPLE, headers={"X-API-Key": police}).json()
    assert other["accepted"] == 1 and other["ids"] != accepted["ids"]
    with runtime.sessions() as session:
        agencies = session.scalars(select(FeedReceiptRow.agency).order_by(FeedReceiptRow.agency))
        assert list(agencies) == ["fire", "public-security"]


def test_a_key_pushes_only_into_its_domains(runtime: Runtime, client: TestClient) -> None:
    fire = make_key(runtime, "fire", [Domain.INCIDENT])
    answer = client.post("/api/v1/feeds/resource", json=DESIGN_EXAMPLE, headers={"X-API-Key": fire})
    assert answer.status_code == 403
    assert "incident" in answer.json()["error"]["message"]

    # CAP on /warning maps each alert to its own domain: refused one by one outside the key.
    water = make_key(runtime, "water", [Domain.FLOOD])
    document = edxl(bare("taiwan.cap"), bare("thunderstorm.cap"))
    cap = {"X-API-Key": water, "Content-Type": "application/cap+xml"}
    mixed = client.post("/api/v1/feeds/warning", content=document, headers=cap)
    assert mixed.status_code == 202, mixed.text
    body = mixed.json()
    assert body["accepted"] == 1 and len(body["ids"]) == 1
    (refusal,) = body["rejected"]
    assert "'warning'" in refusal["reason"] and "flood" in refusal["reason"]
    only_warning = client.post(
        "/api/v1/feeds/warning", content=edxl(bare("thunderstorm.cap")), headers=cap
    )
    assert only_warning.status_code == 403
    assert receipts(runtime) == 1


def test_staff_token_cannot_push_and_operator_cannot_manage_keys(
    runtime: Runtime, client: TestClient
) -> None:
    token = make_token(runtime, "op", "operator")
    answer = client.post(FEED, json=DESIGN_EXAMPLE, headers={"X-API-Key": token})
    assert answer.status_code == 401
