"""Every real CAP and GeoJSON file of shared/data through HTTP and the embedded pipeline: accepted
or refused as the data README says, and accepted ones stored with the right domain, time, area and
severity."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry.base import BaseGeometry

from command_center.app import create_app
from infra.runtime import Runtime
from infra.settings import Settings
from streams.domain import Domain, Severity
from tests.feeds.conftest import SHARED_DATA, wait_stored
from tests.intake.test_cap_examples import ACCEPTED, REFUSED
from tests.intake.test_geojson_profiles import repaired
from tests.support import make_key

CAP_DIR = SHARED_DATA / "cap" / "examples"
FEEDS = SHARED_DATA / "feeds"


def same_area(stored: BaseGeometry | None, expected_type: str | None) -> bool:
    """The stored geometry has the expected type; an invalid (self-intersecting) polygon that
    normalize repaired may come back as a collection of its polygon and leftover lines."""
    if stored is None or expected_type is None:
        return stored is None and expected_type is None
    if stored.geom_type == expected_type:
        return True
    polygons = [part for part in shapely.get_parts(stored) if part.geom_type == "Polygon"]
    return expected_type in ("Polygon", "MultiPolygon") and bool(polygons)


class Feeds:
    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.runtime = runtime
        self.client = client
        self.keys = {"all": make_key(runtime, "meteorology", list(Domain))}
        self.keys["warning"] = make_key(runtime, "earthquake", [Domain.WARNING])

    def post(self, body: bytes, content_type: str, query: str = "", key: str = "all") -> Any:
        answer = self.client.post(
            f"/api/v1/feeds/warning{query}",
            content=body,
            headers={"X-API-Key": self.keys[key], "Content-Type": content_type},
        )
        assert answer.status_code < 500, answer.text
        return answer


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Feeds]:
    data_dir: Path = tmp_path_factory.mktemp("shared-data")
    runtime = Runtime.open(Settings(data_dir=data_dir))
    with TestClient(create_app(runtime)) as client:
        yield Feeds(runtime, client)
    runtime.close()


def test_every_shared_file_has_a_verdict() -> None:
    cap = {path.name for path in CAP_DIR.iterdir()}
    assert cap == set(ACCEPTED) | REFUSED
    feeds = {str(path.relative_to(FEEDS)) for path in FEEDS.rglob("*") if path.is_file()}
    assert feeds == {*GEOJSON, *NOT_GEOJSON}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_cap_becomes_stored_events(feeds: Feeds, name: str) -> None:
    count, domain, occurred_at, severity, geometry_type = ACCEPTED[name]
    answer = feeds.post((CAP_DIR / name).read_bytes(), "application/cap+xml")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] + body["duplicates"] == count and "rejected" not in body
    stored = wait_stored(feeds.runtime, body["ids"])
    first = stored[body["ids"][0]]
    assert {row.domain for row in stored.values()} == {domain.value}
    assert {row.type for row in stored.values()} == {"cap-alert"}
    assert first.occurred_at == datetime.fromisoformat(occurred_at)
    assert first.severity == (severity.value if severity else None)
    assert same_area(first.geometry, geometry_type)
    assert first.attributes["identifier"]


def test_refused_cap_names_the_schema_error(feeds: Feeds) -> None:
    sweden = feeds.post((CAP_DIR / "sweden.cap").read_bytes(), "application/cap+xml")
    assert sweden.status_code == 422
    error = sweden.json()["error"]
    assert "schema" in error["message"] and "senderName" in json.dumps(error)
    assert any("line" in detail for detail in error["details"]), error
    wrong_ns = feeds.post((CAP_DIR / "invalid_xmlns.cap").read_bytes(), "application/cap+xml")
    assert wrong_ns.status_code in (400, 422)
    assert "namespace" in wrong_ns.json()["error"]["message"].lower() or "CAP" in wrong_ns.text


# file → (events, domains, first source id, first time, first severity, first geometry)
GEOJSON: dict[str, tuple[str, int, set[str], str, str, Severity, str | None]] = {
    "usgs-earthquakes/significant_month.geojson": (
        "usgs-earthquakes",
        18,
        {"warning"},
        "us6000len8",
        "2023-10-11T00:41:56.160000+00:00",
        Severity.EXTREME,
        "Point",
    ),
    "nws-alerts/alerts_active_zone.json": (
        "nws-alerts",
        1,
        {"warning"},
        "NWS-IDP-PROD-3965873-3369046",
        "2019-12-20T13:34:00-08:00",
        Severity.SEVERE,
        None,
    ),
}
# The Cedar Rapids feed has placeholder times ("date:now -44 seconds"): every alert is refused.
CEDAR = "nws-alerts/cedar_rapids_tornado_flood_alerts.json"
NOT_GEOJSON = {
    CEDAR,
    "usgs-water/JSON15min2day.json",
    "usgs-water/nothing_avail.json",
    "usgs-water/startDST.json",
    "usgs-water/two_sites_two_params_iv.json",
}


@pytest.mark.parametrize("name", sorted(GEOJSON))
def test_geojson_feeds_become_stored_events(feeds: Feeds, name: str) -> None:
    profile, count, domains, source_id, occurred_at, severity, geometry = GEOJSON[name]
    answer = feeds.post((FEEDS / name).read_bytes(), "application/geo+json", f"?profile={profile}")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == count and "rejected" not in body
    stored = wait_stored(feeds.runtime, body["ids"])
    assert {row.domain for row in stored.values()} == domains
    first = stored[body["ids"][0]]
    assert first.source_id == source_id
    assert first.occurred_at == datetime.fromisoformat(occurred_at)
    assert first.severity == severity.value
    assert (first.geometry.geom_type if first.geometry is not None else None) == geometry


def test_cedar_rapids_placeholders_are_refused_item_by_item(feeds: Feeds) -> None:
    answer = feeds.post((FEEDS / CEDAR).read_bytes(), "application/geo+json", "?profile=nws-alerts")
    assert answer.status_code == 422
    details = answer.json()["error"]["details"]
    assert len(details) == 48 and all("date:now" in d["msg"] for d in details)
    assert all(d["source_id"].startswith("urn:oid:") for d in details)


def test_cedar_rapids_with_real_times_splits_by_domain(feeds: Feeds) -> None:
    body = json.dumps(repaired((FEEDS / CEDAR).read_bytes())).encode()
    # A warning-only key: the 18 flood warnings map to the flood domain and are refused alone.
    limited = feeds.post(body, "application/geo+json", "?profile=nws-alerts", key="warning")
    assert limited.status_code == 202, limited.text
    assert limited.json()["accepted"] == 30 and len(limited.json()["rejected"]) == 18
    everything = feeds.post(body, "application/geo+json", "?profile=nws-alerts")
    result = everything.json()
    assert (result["accepted"], len(result["ids"])) == (48, 48)  # another agency's events
    stored = wait_stored(feeds.runtime, result["ids"])
    assert Counter(row.domain for row in stored.values()) == {"flood": 18, "warning": 30}
    tornado = next(r for r in stored.values() if r.attributes["event"] == "Tornado Warning")
    assert tornado.severity == "extreme"
    assert tornado.geometry is not None and tornado.geometry.geom_type == "Polygon"
    min_lon, min_lat, max_lon, max_lat = tornado.geometry.bounds
    assert -98 < min_lon < max_lon < -89 and 40 < min_lat < max_lat < 44.5  # Iowa
    assert tornado.occurred_at > datetime(2024, 5, 21, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(NOT_GEOJSON - {CEDAR}))
def test_water_services_json_is_not_a_geojson_feed(feeds: Feeds, name: str) -> None:
    for profile in ("usgs-earthquakes", "nws-alerts"):
        answer = feeds.post(
            (FEEDS / name).read_bytes(), "application/geo+json", f"?profile={profile}"
        )
        assert answer.status_code in (400, 422), answer.text
        assert answer.json()["error"]["message"]
