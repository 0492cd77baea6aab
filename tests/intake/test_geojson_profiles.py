"""GeoJSON profiles on the real USGS and NWS feeds of shared/data/feeds."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command_center.intake import parse_geojson
from command_center.intake.geojson_profiles import (
    LEVEL_DENSE,
    LEVEL_LESS_DENSE,
    earthquake_severity,
    grade,
)
from infra.errors import InvalidInput, LinkageError, PayloadTooLarge, ValidationFailed
from streams.domain import Domain, Severity
from streams.schemas import validate_data
from tests.intake.conftest import MAX_BYTES, shared_file

USGS = shared_file("feeds", "usgs-earthquakes", "significant_month.geojson")
CEDAR = shared_file("feeds", "nws-alerts", "cedar_rapids_tornado_flood_alerts.json")
ZONE = shared_file("feeds", "nws-alerts", "alerts_active_zone.json")
PLACEHOLDER = re.compile(r"date:now ([+-]\d+) seconds")


def test_usgs_significant_month() -> None:
    result = parse_geojson(USGS, "usgs-earthquakes", max_bytes=MAX_BYTES)
    assert result.rejected == ()
    assert len(result.items) == 18
    herat = result.items[0]
    envelope = herat.envelope
    assert herat.domain is Domain.WARNING and envelope.type == "earthquake"
    assert envelope.source_id == "us6000len8"
    assert envelope.occurred_at == datetime(2023, 10, 11, 0, 41, 56, 160000, tzinfo=UTC)
    assert envelope.geometry is not None
    assert envelope.geometry.type == "Point"
    assert envelope.geometry.coordinates == [62.0449, 34.5565]  # depth dropped into data
    assert envelope.data["depth_km"] == 9.0
    assert envelope.data["magnitude"] == 6.3 and envelope.data["place"] == "western Afghanistan"
    assert envelope.data["alert_level"] == "red" and envelope.data["tsunami"] is False
    assert envelope.data["url"] == "https://earthquake.usgs.gov/earthquakes/eventpage/us6000len8"
    assert envelope.severity is Severity.EXTREME  # PAGER red, although M6.3 alone is severe
    assert (envelope.data["level_dense"], envelope.data["level_less_dense"]) == ("I", "II")
    assert envelope.data["level"] == "I"
    for item in result:
        assert validate_data(item.domain, item.envelope.type, item.envelope.data)
        assert item.original is None


def test_usgs_small_quake_near_anchorage() -> None:
    result = parse_geojson(USGS, "usgs-earthquakes", max_bytes=MAX_BYTES)
    (anchorage,) = [item for item in result if item.envelope.source_id == "ak023ctna5d5"]
    data = anchorage.envelope.data
    assert data["magnitude"] == 4.2
    assert (data["level_dense"], data["level_less_dense"], data["level"]) == ("III", "IV", "III")
    assert anchorage.envelope.severity is Severity.MINOR


@pytest.mark.parametrize(
    ("magnitude", "dense", "less_dense"),
    [
        (3.9, None, None),
        (4.0, "III", "IV"),
        (4.99, "III", "IV"),
        (5.0, "II", "III"),
        (6.0, "I", "II"),
        (6.9, "I", "II"),
        (7.0, "I", "I"),
        (8.1, "I", "I"),
    ],
)
def test_earthquake_plan_grading(
    magnitude: float, dense: str | None, less_dense: str | None
) -> None:
    assert grade(magnitude, LEVEL_DENSE) == dense
    assert grade(magnitude, LEVEL_LESS_DENSE) == less_dense


def test_earthquake_severity() -> None:
    assert earthquake_severity(7.1, None) is Severity.EXTREME
    assert earthquake_severity(6.2, "green") is Severity.SEVERE
    assert earthquake_severity(4.5, "orange") is Severity.SEVERE
    assert earthquake_severity(2.0, None) is Severity.MINOR


def test_cedar_rapids_placeholders_are_refused_one_by_one() -> None:
    result = parse_geojson(CEDAR, "nws-alerts", max_bytes=MAX_BYTES)
    assert result.items == ()
    assert len(result.rejected) == 48
    assert [rejection.index for rejection in result.rejected] == list(range(48))
    for rejection in result.rejected:
        assert rejection.source_id is not None and rejection.source_id.startswith("urn:oid:")
        assert "date:now" in rejection.reason and "not an ISO 8601" in rejection.reason


def repaired(body: bytes) -> dict[str, Any]:
    """The Cedar Rapids feed with each placeholder turned into a time around a fixed 'now'."""
    now = datetime(2024, 5, 21, 19, 35, tzinfo=UTC).timestamp()

    def fix(match: re.Match[str]) -> str:
        return datetime.fromtimestamp(now + int(match.group(1)), tz=UTC).isoformat()

    document: dict[str, Any] = json.loads(PLACEHOLDER.sub(fix, body.decode("utf-8")))
    return document


def test_cedar_rapids_mapping_once_times_are_real() -> None:
    document = repaired(CEDAR)
    result = parse_geojson(json.dumps(document).encode(), "nws-alerts", max_bytes=MAX_BYTES)
    assert result.rejected == ()
    assert len(result.items) == 48
    by_event = Counter(
        (item.envelope.data["event"], item.domain, item.envelope.type) for item in result
    )
    assert by_event == {
        ("Flood Warning", Domain.FLOOD, "flood-warning"): 17,
        ("Flash Flood Warning", Domain.FLOOD, "flood-warning"): 1,
        ("Flood Watch", Domain.WARNING, "weather-alert"): 15,
        ("Tornado Watch", Domain.WARNING, "weather-alert"): 7,
        ("Severe Thunderstorm Warning", Domain.WARNING, "weather-alert"): 6,
        ("Tornado Warning", Domain.WARNING, "weather-alert"): 1,
        ("Wind Advisory", Domain.WARNING, "weather-alert"): 1,
    }
    tornado = next(item for item in result if item.envelope.data["event"] == "Tornado Warning")
    assert tornado.envelope.severity is Severity.EXTREME
    for item in result:
        envelope = item.envelope
        assert validate_data(item.domain, envelope.type, envelope.data) == envelope.data
        if envelope.geometry is None:
            # Zone-based alerts: where they apply is only in the zones and codes.
            assert envelope.data["affected_zones"] and envelope.data["geocode"]["UGC"]
        else:
            for lon, lat in envelope.geometry.coordinates[0]:
                assert -98 < lon < -89 and 40 < lat < 44.5  # Iowa and around
        # NWS grades by event name, not by colour; "Red Flag Warning" would not count either.
        assert "warning_colour" not in envelope.data
    first = result.items[0].envelope
    assert first.occurred_at == datetime(2024, 5, 21, 19, 30, 48, tzinfo=UTC)  # onset, now-252 s
    assert first.data["parameters"]["maxHailSize"] == ["1.25"]


def test_nws_zone_alert_without_geometry() -> None:
    (item,) = parse_geojson(ZONE, "nws-alerts", max_bytes=MAX_BYTES)
    envelope = item.envelope
    assert item.domain is Domain.WARNING and envelope.type == "weather-alert"
    assert envelope.source_id == "NWS-IDP-PROD-3965873-3369046"
    assert envelope.geometry is None
    assert envelope.occurred_at.isoformat() == "2019-12-20T13:34:00-08:00"
    assert envelope.severity is Severity.SEVERE
    assert len(envelope.data["affected_zones"]) == 11
    assert len(envelope.data["geocode"]["SAME"]) == 16
    assert envelope.data["area_desc"].startswith("North Oregon Coast; Greater Portland")
    assert envelope.data["message_type"] == "Update" and len(envelope.data["references"]) == 4


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_geojson(USGS, "emsc", max_bytes=MAX_BYTES)
    assert "nws-alerts" in caught.value.message and "usgs-earthquakes" in caught.value.message
    assert caught.value.details[0]["loc"] == ["query", "profile"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", InvalidInput),
        (b"{", InvalidInput),
        (b'{"type": "FeatureCollection", "features": [NaN]}', InvalidInput),
        (b"\xff\xfe{}", InvalidInput),
        (b"[" * 100_000 + b"]" * 100_000, InvalidInput),
        (b'{"type": "Topology"}', ValidationFailed),
        (b'{"type": "FeatureCollection", "features": {}}', ValidationFailed),
        (b"[]", ValidationFailed),
    ],
)
def test_unreadable_documents(body: bytes, error: type[LinkageError]) -> None:
    with pytest.raises(error):
        parse_geojson(body, "usgs-earthquakes", max_bytes=1 << 21)


def test_oversize() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_geojson(USGS, "usgs-earthquakes", max_bytes=len(USGS) - 1)


def broken_usgs(change: Any) -> list[str]:
    document = json.loads(USGS)
    change(document["features"][1])
    result = parse_geojson(json.dumps(document).encode(), "usgs-earthquakes", max_bytes=MAX_BYTES)
    assert len(result.items) == 17
    (rejection,) = result.rejected
    assert rejection.index == 1
    return [rejection.reason, *(str(detail) for detail in rejection.details)]


def test_bad_features_are_refused_alone() -> None:
    assert "latitude" in broken_usgs(lambda f: f["geometry"]["coordinates"].__setitem__(1, 200))[0]
    assert "mag" in broken_usgs(lambda f: f["properties"].__setitem__("mag", "5.0"))[0]
    assert "mag" in broken_usgs(lambda f: f["properties"].__setitem__("mag", None))[0]
    assert "no id" in broken_usgs(lambda f: f.pop("id"))[0]
    assert "time" in broken_usgs(lambda f: f["properties"].__setitem__("time", 10**30))[0]
    reasons = broken_usgs(lambda f: f["properties"].__setitem__("felt", -3))
    assert "['data', 'felt']" in reasons[1]


def test_a_single_feature_is_accepted() -> None:
    feature = json.loads(USGS)["features"][0]
    result = parse_geojson(json.dumps(feature).encode(), "usgs-earthquakes", max_bytes=MAX_BYTES)
    assert [item.envelope.source_id for item in result] == ["us6000len8"]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
SOURCES = {"usgs-earthquakes": json.loads(USGS), "nws-alerts": repaired(CEDAR)}


@st.composite
def mutated_features(draw: st.DrawFn) -> tuple[str, bytes]:
    profile = draw(st.sampled_from(sorted(SOURCES)))
    feature = copy.deepcopy(draw(st.sampled_from(SOURCES[profile]["features"])))
    for _ in range(draw(st.integers(1, 4))):
        target = feature
        if draw(st.booleans()) and isinstance(feature.get("properties"), dict):
            target = feature["properties"]
        keys = sorted(target) or ["x"]
        target[draw(st.sampled_from(keys))] = draw(JSON_VALUES)
    return profile, json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_features())
def test_mutated_features_are_accepted_or_refused_never_crash(case: tuple[str, bytes]) -> None:
    profile, body = case
    result = parse_geojson(body, profile, max_bytes=MAX_BYTES)
    assert len(result.items) + len(result.rejected) == 1
