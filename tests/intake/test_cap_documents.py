"""CAP containers (EDXL-DE, Atom) and the mapping of times, shapes, colours and domains."""

from __future__ import annotations

import math
import re

import pytest

from command_center.intake import parse_cap
from command_center.intake.cap_geometry import EARTH_RADIUS_KM, circle_ring
from command_center.intake.cap_mapping import domain_for, warning_colour
from infra.errors import InvalidInput, ValidationFailed
from streams.domain import Domain
from tests.intake.conftest import MAX_BYTES, cap_example

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"


def bare(name: str) -> str:
    """A real alert without its XML declaration, ready to embed in a container."""
    text = cap_example(name).decode("utf-8-sig")
    return re.sub(r"^\s*<\?xml[^>]*\?>\s*(<\?xml-stylesheet[^>]*\?>\s*)?", "", text)


def edxl(*alerts: str) -> bytes:
    objects = "".join(
        f"<contentObject><xmlContent><embeddedXMLContent>{alert}</embeddedXMLContent>"
        "</xmlContent></contentObject>"
        for alert in alerts
    )
    return (
        '<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">'
        "<distributionID>d-1</distributionID><senderID>wra@example.org</senderID>"
        "<dateTimeSent>2014-05-14T20:11:00+08:00</dateTimeSent>"
        "<distributionStatus>Actual</distributionStatus><distributionType>Report</distributionType>"
        f"<combinedConfidentiality>UNCLASSIFIED</combinedConfidentiality>{objects}"
        "</EDXLDistribution>"
    ).encode()


def atom(*contents: str) -> bytes:
    entries = "".join(
        f"<entry><id>urn:e:{n}</id><title>t</title><updated>2019-01-01T00:00:00Z</updated>"
        f'<content type="text/xml">{content}</content></entry>'
        for n, content in enumerate(contents)
    )
    return (f'<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:f</id>{entries}</feed>').encode()


def minimal_alert(info: str = "", *, sent: str = "2023-07-31T08:00:00+08:00") -> bytes:
    return (
        f'<alert xmlns="{CAP12}"><identifier>T-1</identifier><sender>test@example.org</sender>'
        f"<sent>{sent}</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
        f"{info}</alert>"
    ).encode()


def info(category: str = "Met", event: str = "Test", extra: str = "", area: str = "") -> str:
    return (
        f"<info><category>{category}</category><event>{event}</event><urgency>Immediate</urgency>"
        f"<severity>Severe</severity><certainty>Observed</certainty>{extra}{area}</info>"
    )


def test_edxl_de_carries_several_alerts() -> None:
    result = parse_cap(edxl(bare("taiwan.cap"), bare("thunderstorm.cap")), max_bytes=MAX_BYTES)
    assert [item.domain for item in result] == [Domain.FLOOD, Domain.WARNING]
    assert result.rejected == ()
    assert result.items[0].original is not None
    assert result.items[0].original.startswith("<alert")


def test_edxl_de_refuses_the_bad_alert_and_keeps_the_good_one() -> None:
    result = parse_cap(edxl(bare("sweden.cap"), bare("ph.cap")), max_bytes=MAX_BYTES)
    assert [item.envelope.data["identifier"] for item in result] == [
        "103ff55e-b538-49a2-a94a-64470ddea2cc"
    ]
    (rejection,) = result.rejected
    assert rejection.index == 0 and rejection.source_id == "11337sv"
    assert "schema" in rejection.reason and "senderName" in rejection.reason


def test_atom_feed_with_inline_alerts() -> None:
    body = atom(bare("iceland_met_office.cap"), bare("earthquake.cap"), "<p xmlns=''>link</p>")
    result = parse_cap(body, max_bytes=MAX_BYTES)
    assert len(result.items) == 3  # two infos of Iceland, one of the CAP 1.1 earthquake
    (rejection,) = result.rejected
    assert rejection.index == 2 and "not a CAP alert" in rejection.reason


def test_atom_feed_without_inline_alerts_holds_nothing() -> None:
    result = parse_cap(atom(""), max_bytes=MAX_BYTES)
    assert result.items == ()
    assert "not a CAP alert" in result.rejected[0].reason


def test_a_document_of_another_kind_is_unreadable_as_cap() -> None:
    with pytest.raises(InvalidInput, match="not a CAP document"):
        parse_cap(b'<rss version="2.0"><channel/></rss>', max_bytes=MAX_BYTES)


def test_empty_alerts_list_holds_no_alert() -> None:
    with pytest.raises(ValidationFailed, match="no CAP alert"):
        parse_cap(f'<alerts xmlns="{CAP12}"/>'.encode(), max_bytes=MAX_BYTES)


def test_zone_less_time_refuses_only_its_info() -> None:
    # CAP 1.1 types times as xs:dateTime, which allows no zone; the platform does not.
    text = bare("earthquake.cap").replace(
        "<expires>2010-09-02T00:09:25-05:00</expires>", "<expires>2010-09-02T00:09:25</expires>"
    )
    result = parse_cap(text.encode(), max_bytes=MAX_BYTES)
    assert result.items == ()
    (rejection,) = result.rejected
    assert rejection.source_id == "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z#0"
    assert "no time zone" in rejection.reason


def test_zone_less_sent_refuses_the_alert() -> None:
    text = bare("earthquake.cap").replace("2010-08-31T00:09:25-05:00", "2010-08-31T00:09:25")
    with pytest.raises(ValidationFailed, match="no time zone"):
        parse_cap(text.encode(), max_bytes=MAX_BYTES)


def test_onset_wins_over_effective_and_sent() -> None:
    extra = (
        "<effective>2023-07-31T09:00:00+08:00</effective><onset>2023-07-31T10:00:00+08:00</onset>"
    )
    (item,) = parse_cap(minimal_alert(info(extra=extra)), max_bytes=MAX_BYTES)
    assert item.envelope.occurred_at.isoformat() == "2023-07-31T10:00:00+08:00"


def test_several_areas_make_one_multipolygon_and_keep_every_area() -> None:
    areas = (
        "<area><areaDesc>A</areaDesc><polygon>39,115 39,116 40,116 39,115</polygon></area>"
        "<area><areaDesc>B</areaDesc><circle>38.5,116.5 10</circle>"
        "<geocode><valueName>adcode</valueName><value>130681</value></geocode></area>"
    )
    (item,) = parse_cap(minimal_alert(info(area=areas)), max_bytes=MAX_BYTES)
    geometry = item.envelope.geometry
    assert geometry is not None and geometry.type == "MultiPolygon"
    assert geometry.coordinates[0][0] == [[115, 39], [116, 39], [116, 40], [115, 39]]
    assert item.envelope.data["area_desc"] == "A; B"
    assert item.envelope.data["areas"][1]["geocodes"] == [
        {"value_name": "adcode", "value": "130681"}
    ]
    assert item.envelope.data["areas"][1]["circles"] == 1


def test_unclosed_polygon_is_closed_and_degenerate_one_refused() -> None:
    closed = info(area="<area><areaDesc>A</areaDesc><polygon>39,115 39,116 40,116</polygon></area>")
    (item,) = parse_cap(minimal_alert(closed), max_bytes=MAX_BYTES)
    assert item.envelope.geometry is not None
    assert item.envelope.geometry.coordinates[0][-1] == [115.0, 39.0]
    flat = info(area="<area><areaDesc>A</areaDesc><polygon>39,115 39,116 39,115</polygon></area>")
    result = parse_cap(minimal_alert(flat), max_bytes=MAX_BYTES)
    assert result.items == () and "3 distinct points" in result.rejected[0].reason


def test_swapped_coordinates_are_refused_not_guessed() -> None:
    swapped = info(
        area="<area><areaDesc>A</areaDesc><polygon>115,39 116,39 116,40 115,39</polygon></area>"
    )
    result = parse_cap(minimal_alert(swapped), max_bytes=MAX_BYTES)
    assert result.items == ()
    assert "latitude 115.0" in result.rejected[0].reason


def haversine_km(a: list[float], b: list[float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


@pytest.mark.parametrize("lat", [0.0, 39.5, 60.0, -75.0])
def test_circle_vertices_lie_on_the_circle_with_longitude_scaled(lat: float) -> None:
    ring = circle_ring(116.0, lat, 10.0)
    assert ring[0] == ring[-1] and len(ring) == 65
    for vertex in ring:
        assert haversine_km([116.0, lat], vertex) == pytest.approx(10.0, rel=1e-4)
    lons = [lon for lon, _ in ring]
    lats = [la for _, la in ring]
    degree_km = math.pi * EARTH_RADIUS_KM / 180
    assert (max(lats) - min(lats)) == pytest.approx(20 / degree_km, rel=1e-3)
    expected_width = 20 / (degree_km * math.cos(math.radians(lat)))
    assert (max(lons) - min(lons)) == pytest.approx(expected_width, rel=1e-2)


def test_circle_reaching_a_pole_is_refused() -> None:
    polar = info(area="<area><areaDesc>N</areaDesc><circle>89.9,0 100</circle></area>")
    result = parse_cap(minimal_alert(polar), max_bytes=MAX_BYTES)
    assert "pole" in result.rejected[0].reason


@pytest.mark.parametrize(
    ("category", "event", "domain"),
    [
        ("Met", "Flood Warning", Domain.WARNING),  # meteorological services keep Met
        ("Env", "Flood", Domain.FLOOD),
        ("Env", "河道洪水预警", Domain.FLOOD),
        ("Env", "水污染", Domain.WARNING),  # water, but pollution is not flooding
        ("Env", "Air quality", Domain.WARNING),
        ("Infra", "Dam break", Domain.FLOOD),
        ("Infra", "Power outage", Domain.INCIDENT),
        ("Health", "霍乱疫情", Domain.HEALTH),
        ("CBRNE", "Chemical release", Domain.SAFETY),
        ("Transport", "Road closed", Domain.INCIDENT),
        ("Other", "Notice", Domain.WARNING),
    ],
)
def test_category_to_domain(category: str, event: str, domain: Domain) -> None:
    assert domain_for([category], event, []) is domain
    (item,) = parse_cap(minimal_alert(info(category, event)), max_bytes=MAX_BYTES)
    assert item.domain is domain


def test_flood_event_code_makes_env_a_flood() -> None:
    assert domain_for(["Env"], "Hydrological statement", []) is Domain.FLOOD
    assert domain_for(["Env"], "Statement", ["FLW"]) is Domain.FLOOD


@pytest.mark.parametrize(
    ("parameters", "event", "headline", "colour"),
    [
        ([], "暴雨红色预警", None, "red"),
        ([], "暴雨黄色预警信号", None, "yellow"),
        ([], "大風藍色預警", None, "blue"),
        ([], "黄河流域汛情通报", None, None),  # 黄河 is the Yellow River
        ([], "Red Flag Warning", None, None),  # NWS fire weather, not a red warning
        ([], "Flood Warning", "Flood Warning for Orange County", None),
        ([], "Yellow ice warning", None, "yellow"),
        ([], "Storm", "Orange warning for wind", "orange"),
        ([("预警级别", "橙色")], "Storm", "Yellow warning", "orange"),  # parameters first
        ([("awareness_level", "3; orange; Severe")], "", None, "orange"),
        ([("color", "#fdeb1b")], "", None, None),
        ([], "Code orange and red alert", None, "red"),  # several: the gravest
    ],
)
def test_warning_colour(
    parameters: list[tuple[str, str]], event: str, headline: str | None, colour: str | None
) -> None:
    assert warning_colour(parameters, event, headline) == colour
