"""Every real CAP example of shared/data/cap/examples gets the verdict its README states."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from lxml import etree

from command_center.intake import ParseResult, parse_cap
from infra.errors import ValidationFailed
from streams.domain import Domain, Severity
from streams.schemas import validate_data
from tests.intake.conftest import CAP_EXAMPLES, MAX_BYTES, cap_example

# file → (events, domain of every event, occurred_at of the first, severity, geometry type)
ACCEPTED = {
    "taiwan.cap": (1, Domain.FLOOD, "2014-05-14T20:10:00+08:00", Severity.MODERATE, None),
    "NOAA_MultiplePolygons.xml": (
        1,
        Domain.WARNING,
        "2020-08-26T04:14:10-05:00",
        Severity.EXTREME,
        "MultiPolygon",
    ),
    "CanadaNaad.xml": (2, Domain.WARNING, "2019-07-12T17:59:29+00:00", Severity.MINOR, "Polygon"),
    "australia_bom.cap": (1, Domain.WARNING, "2019-01-16T03:15:52+00:00", Severity.UNKNOWN, None),
    "iceland_met_office.cap": (
        2,
        Domain.WARNING,
        "2021-09-12T18:00:00+00:00",
        Severity.MODERATE,
        "Polygon",
    ),
    "mexico.xml": (1, Domain.WARNING, "2018-10-20T07:15:00-05:00", Severity.UNKNOWN, "Polygon"),
    "ph.cap": (1, Domain.WARNING, "2014-11-03T14:57:33+08:00", Severity.MINOR, "Polygon"),
    "smhi.se.alerts.cap": (
        17,
        Domain.WARNING,
        "2019-03-12T14:51:46+01:00",
        Severity.MODERATE,
        None,
    ),
    # CAP 1.1, no effective/onset: the time is <sent>; a zero-radius circle is a point.
    "earthquake.cap": (1, Domain.WARNING, "2010-08-31T00:09:25-05:00", Severity.UNKNOWN, "Point"),
    "no_info_tag.cap": (1, Domain.WARNING, "2016-02-25T12:47:09-08:00", None, None),
    "meteoalarm_france_sample_detail.xml": (
        2,
        Domain.WARNING,
        "2022-12-07T06:00:00+01:00",
        Severity.MODERATE,
        None,
    ),
    "meteoalarm_ireland_sample_detail.xml": (
        1,
        Domain.WARNING,
        "2022-12-08T00:00:00+00:00",
        Severity.MODERATE,
        "MultiPolygon",
    ),
    "meteoalarm_uk_nothern_ireland_sample_detail.xml": (
        1,
        Domain.WARNING,
        "2022-12-08T16:00:00+00:00",
        Severity.MODERATE,
        None,
    ),
    "thunderstorm.cap": (
        1,
        Domain.WARNING,
        "2003-06-17T14:57:00-07:00",
        Severity.SEVERE,
        "Polygon",
    ),
    # Category Security: something happening that desks answer, so an incident.
    "43b080713727.cap": (1, Domain.INCIDENT, "2003-04-02T14:39:01-05:00", Severity.SEVERE, None),
}
REFUSED = {"invalid_xmlns.cap", "sweden.cap"}


def parse(name: str) -> ParseResult:
    return parse_cap(cap_example(name), max_bytes=MAX_BYTES)


def test_every_example_has_a_verdict() -> None:
    on_disk = {path.name for path in CAP_EXAMPLES.iterdir()}
    assert on_disk == set(ACCEPTED) | REFUSED


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_examples(name: str, no_network: None) -> None:
    count, domain, occurred_at, severity, geometry_type = ACCEPTED[name]
    result = parse(name)
    assert result.rejected == ()
    assert len(result.items) == count
    assert {item.domain for item in result.items} == {domain}
    first = result.items[0].envelope
    assert first.occurred_at == datetime.fromisoformat(occurred_at)
    assert first.severity == severity
    assert (first.geometry.type if first.geometry else None) == geometry_type
    source_ids = [item.envelope.source_id for item in result.items]
    assert len(set(source_ids)) == len(source_ids)
    for item in result.items:
        envelope = item.envelope
        assert envelope.type == "cap-alert"
        assert envelope.crs == "EPSG:4326"
        # What the parser emits is exactly what the data schema accepts.
        assert validate_data(item.domain, envelope.type, envelope.data) == envelope.data
        assert item.original is not None
        assert envelope.data["identifier"] in item.original
        assert etree.fromstring(item.original.encode("utf-8")) is not None


def test_single_alert_original_is_the_document_as_sent() -> None:
    raw = cap_example("no_info_tag.cap")
    (item,) = parse("no_info_tag.cap")
    assert item.original == raw.decode("utf-8")


def test_sweden_breaks_the_schema_with_line_and_message() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse("sweden.cap")
    error = caught.value
    assert "line 17" in error.message
    assert "senderName" in error.message
    assert error.details[0]["line"] == 17
    assert error.details[0]["loc"] == ["body", "line", 17]
    assert "not expected" in error.details[0]["msg"]


def test_wrong_namespace_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse("invalid_xmlns.cap")
    assert "urn:oasis:names:tc:emergency:alerts:1.2" in caught.value.message
    assert caught.value.details[0]["loc"] == ["body", "alert", "xmlns"]


def test_noaa_two_polygons_in_lon_lat_order_inside_the_us() -> None:
    (item,) = parse("NOAA_MultiplePolygons.xml")
    geometry = item.envelope.geometry
    assert geometry is not None and geometry.type == "MultiPolygon"
    assert len(geometry.coordinates) == 2
    for polygon in geometry.coordinates:
        ring = polygon[0]
        assert ring[0] == ring[-1]
        for lon, lat in ring:
            # Acadia Parish, Louisiana: CAP wrote "30.094,-92.619", so lon is the negative one.
            assert -93 < lon < -92 and 30 < lat < 31
    assert item.envelope.data["areas"][0]["area_desc"] == "Acadia"
    assert {"value_name": "UGC", "value": "LAZ043"} in item.envelope.data["areas"][0]["geocodes"]
    assert item.envelope.data["msg_type"] == "Update"
    assert len(item.envelope.data["references"]) == 8


def test_taiwan_reservoir_release_is_flood_control_and_red() -> None:
    (item,) = parse("taiwan.cap")
    data = item.envelope.data
    assert item.domain is Domain.FLOOD
    assert data["categories"] == ["Infra"]
    # Traditional characters: 紅色, not 红色.
    assert data["warning_colour"] == "red" and data["level"] == "I"
    assert data["area_desc"] == "苗栗縣頭屋鄉"
    assert data["areas"][0]["geocodes"] == [
        {"value_name": "Taiwan_Geocode_100", "value": "1000512"}
    ]
    assert item.envelope.geometry is None
    assert data["language"] == "zh-tw"


def test_no_info_alert_is_one_warning_event_keeping_its_references() -> None:
    (item,) = parse("no_info_tag.cap")
    data = item.envelope.data
    assert item.domain is Domain.WARNING
    assert item.envelope.source_id == "1017033100951096-517189320160225203219800_Cancel"
    assert data["msg_type"] == "Cancel"
    assert data["references"] == [
        "AtHoc,1017033100951096-517189320160225203219800,2016-02-25T12:32:19-08:00"
    ]
    assert data["categories"] == [] and "event" not in data and "info_index" not in data


def test_test_status_is_kept_for_downstream() -> None:
    (item,) = parse("ph.cap")
    assert item.envelope.data["status"] == "Test"


def test_cap_1_1_earthquake_circle_is_its_epicentre() -> None:
    (item,) = parse("earthquake.cap")
    assert item.envelope.data["cap_version"] == "1.1"
    assert item.envelope.geometry is not None
    assert item.envelope.geometry.coordinates == [-173.274, -16.053]
    assert {"value_name": "Magnitude", "value": "6.3"} in item.envelope.data["parameters"]


def test_smhi_alerts_wrapper_gives_seventeen_events() -> None:
    result = parse("smhi.se.alerts.cap")
    identifiers = {item.envelope.data["identifier"] for item in result}
    assert len(identifiers) == 17
    assert all(item.envelope.source_id.endswith("#0") for item in result)
    # Each alert's original is its own element, with the CAP namespace declared on it.
    first = result.items[0].original
    assert first is not None and first.startswith("<alert")
    assert 'xmlns="urn:oasis:names:tc:emergency:cap:1.2"' in first


@pytest.mark.parametrize(
    ("name", "colour"),
    [
        ("iceland_met_office.cap", "yellow"),  # parameter Color=Yellow
        ("meteoalarm_france_sample_detail.xml", "yellow"),  # awareness_level "2; yellow; Moderate"
        ("meteoalarm_uk_nothern_ireland_sample_detail.xml", "yellow"),
        ("mexico.xml", "red"),  # parameter semáforo=red
        ("43b080713727.cap", "orange"),  # headline "Homeland Security Sets Code ORANGE"
        ("thunderstorm.cap", None),
        ("NOAA_MultiplePolygons.xml", None),
        ("smhi.se.alerts.cap", None),  # SMHI sends a hex colour (#fdeb1b), not a name
    ],
)
def test_warning_colours_of_real_alerts(name: str, colour: str | None) -> None:
    levels = {"red": "I", "orange": "II", "yellow": "III", "blue": "IV", None: None}
    for item in parse(name):
        assert item.envelope.data.get("warning_colour") == colour
        assert item.envelope.data.get("level") == levels[colour]


def test_every_cap_category_of_the_schema_has_a_domain() -> None:
    from command_center.intake.cap_mapping import CATEGORY_DOMAIN

    schema = (CAP_EXAMPLES.parent / "schema" / "CAP-v1.2.xsd").read_text()
    block = schema[schema.index('name = "category"') :]
    block = block[: block.index("</simpleType>")]
    categories = set(re.findall(r'enumeration value = "([A-Za-z]+)"', block))
    assert len(categories) == 12
    assert categories == set(CATEGORY_DOMAIN)
