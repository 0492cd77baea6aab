"""Dead letters: events that pass intake (or arrive on the raw topic straight from an agency's
Kafka producer) but fail later are kept with their reason, listed, and re-driven after a fix."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from command_center.app import create_app
from infra.bus import BusRecord
from infra.runtime import Runtime
from streams.domain import event_id_for, utcnow
from streams.envelope import RawRecord
from tests.feeds.conftest import (
    Tansu,
    auth,
    kafka_runtime,
    pipeline_worker,
    stored_events,
    wait_stored,
)
from tests.support import DESIGN_EXAMPLE, make_key, make_token

LETTERS = "/api/v1/admin/dead-letters"


def raw(source_id: str, agency: str = "fire", **changes: Any) -> dict[str, Any]:
    """A raw-topic record as an agency producing to Kafka itself would write it."""
    envelope = copy.deepcopy(DESIGN_EXAMPLE) | {"source_id": source_id} | changes
    return {
        "v": 1,
        "event_id": event_id_for(agency, source_id),
        "agency": agency,
        "domain": "incident",
        "received_at": utcnow().isoformat(),
        "envelope": envelope,
    }


def encode(record: dict[str, Any]) -> bytes:
    return RawRecord.model_validate(record).model_dump_json().encode()


def wait_letters(client: TestClient, headers: dict[str, str], count: int, **query: Any) -> Any:
    deadline = time.monotonic() + 20
    while True:
        page = client.get(LETTERS, params=query, headers=headers).json()
        if page["total"] >= count or time.monotonic() > deadline:
            assert page["total"] == count, page
            return page
        time.sleep(0.05)


def test_dead_letters_are_listed_and_redriven(runtime: Runtime, client: TestClient) -> None:
    operator = auth(make_token(runtime, "op", "operator"))
    good = raw("k-good")
    bad_crs = raw("k-crs", crs="EPSG:999999")  # no such CRS: normalize cannot place it
    bad_data = raw("k-data")
    bad_data["envelope"]["data"]["people_trapped"] = -4
    garbage = b'{"not": "a raw record"}'
    assert client.portal is not None
    client.portal.call(
        runtime.bus.publish,
        runtime.bus.topics.raw,
        [BusRecord(None, encode(r)) for r in (good, bad_crs, bad_data)]
        + [BusRecord(None, garbage)],
    )
    wait_stored(runtime, [good["event_id"]])
    page = wait_letters(client, operator, 3)
    by_source = {item["source_id"]: item for item in page["items"]}
    assert "unknown CRS 'EPSG:999999'" in by_source["k-crs"]["reason"]
    assert by_source["k-crs"]["stage"] == "normalize" and by_source["k-crs"]["agency"] == "fire"
    assert "people_trapped" in by_source["k-data"]["reason"]
    (undecodable,) = [item for item in page["items"] if item["stage"] == "decode"]
    assert undecodable["agency"] is None and undecodable["record"] == {"raw": garbage.decode()}

    assert wait_letters(client, operator, 2, stage="normalize")["total"] == 2
    assert client.get(LETTERS, params={"agency": "water"}, headers=operator).json()["total"] == 0
    assert client.get(LETTERS, params={"limit": 1}, headers=operator).json()["next_offset"] == 1
    liaison = auth(make_token(runtime, "liaison", "liaison"))
    assert client.get(LETTERS, headers=liaison).status_code == 403
    assert client.get(LETTERS).status_code == 401

    # Re-drive with the fix (the agency said the coordinates are WGS-84): stored, once.
    letter = by_source["k-crs"]["id"]
    fixed = copy.deepcopy(bad_crs["envelope"]) | {"crs": "EPSG:4326"}
    url = f"{LETTERS}/{letter}/redrive"
    stolen = client.post(url, json={"envelope": fixed | {"source_id": "other"}}, headers=operator)
    assert stolen.status_code == 422 and "source_id" in stolen.json()["error"]["message"]
    answer = client.post(url, json={"envelope": fixed}, headers=operator)
    assert answer.status_code == 200, answer.text
    assert answer.json()["published"] is True and answer.json()["dead_letter"]["redriven_at"]
    stored = wait_stored(runtime, [bad_crs["event_id"]])
    assert stored[bad_crs["event_id"]].source_id == "k-crs"
    again = client.post(url, headers=operator)
    assert again.status_code == 200 and again.json()["published"] is False
    assert client.post(url, json={"envelope": fixed}, headers=operator).status_code == 409
    assert wait_letters(client, operator, 2, redriven="false")["total"] == 2

    # Undecodable: no correction (it names no agency), but a plain re-drive sends it as it came
    # and it fails again, as a new dead letter with its own reason.
    garbage_url = f"{LETTERS}/{undecodable['id']}/redrive"
    refused = client.post(garbage_url, json={"envelope": fixed}, headers=operator)
    assert refused.status_code == 422
    assert client.post(garbage_url, headers=operator).json()["published"] is True
    wait_letters(client, operator, 4)
    assert client.post(f"{LETTERS}/nope/redrive", headers=operator).status_code == 404
    one = client.get(f"{LETTERS}/{letter}", headers=operator).json()
    assert one["record"]["envelope"]["crs"] == "EPSG:999999"  # the original is kept as it came


@pytest.mark.slow
def test_kafka_producers_go_through_the_same_validation(tmp_path: Path, tansu: Tansu) -> None:
    """An agency producing raw records to Kafka itself: the same schema decides, on the real
    broker; failures are dead letters, and a corrected one is re-driven through the bus."""
    runtime = kafka_runtime(tmp_path, tansu)
    try:
        key = {"X-API-Key": make_key(runtime, "fire")}
        operator = auth(make_token(runtime, "op", "operator"))
        with (
            TestClient(create_app(runtime, run_pipeline=False)) as client,
            pipeline_worker(runtime.settings),
        ):
            good, bad = raw("kafka-good"), raw("kafka-bad")
            bad["envelope"]["data"]["channel"] = "999"
            forged = raw("kafka-forged")
            forged["envelope"]["agency"] = "water"  # not a field: an envelope never names one

            async def produce() -> None:
                producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
                await producer.start()
                try:
                    for record in (good, bad, forged):
                        value = json.dumps(record, ensure_ascii=False).encode()
                        await producer.send_and_wait(runtime.bus.topics.raw, value)
                    await producer.send_and_wait(runtime.bus.topics.raw, b"\xff not json")
                finally:
                    await producer.stop()

            asyncio.run(produce())
            http = client.post("/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers=key)
            assert http.status_code == 202
            wait_stored(runtime, [good["event_id"], *http.json()["ids"]], timeout=40)
            page = wait_letters(client, operator, 3)
            by_stage: dict[str, list[dict[str, Any]]] = {}
            for item in page["items"]:
                by_stage.setdefault(item["stage"], []).append(item)
            (invalid,) = by_stage["normalize"]
            assert invalid["source_id"] == "kafka-bad" and "channel" in invalid["reason"]
            decode = " | ".join(item["reason"] for item in by_stage["decode"])
            assert "envelope.agency" in decode and len(by_stage["decode"]) == 2, decode

            fixed = copy.deepcopy(bad["envelope"])
            fixed["data"]["channel"] = "119"
            answer = client.post(
                f"{LETTERS}/{invalid['id']}/redrive", json={"envelope": fixed}, headers=operator
            )
            assert answer.status_code == 200 and answer.json()["published"], answer.text
            stored = wait_stored(runtime, [bad["event_id"]], timeout=20)
            assert stored[bad["event_id"]].attributes["channel"] == "119"
            assert not stored_events(runtime, [forged["event_id"]])
    finally:
        runtime.close()
