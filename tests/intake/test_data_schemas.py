"""The per-domain data models: real examples pass, nonsense fails with the field named."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from infra.errors import ValidationFailed
from streams.domain import Domain
from streams.envelope import EventEnvelope
from streams.schemas import REGISTRY, known_types, model_for, personal_fields, validate_data
from tests.intake.jsonschema_strategy import from_schema

DESIGN_CALL = {
    "source_id": "110-20230731-0001",
    "type": "call",
    "occurred_at": "2023-07-31T08:12:00+08:00",
    "geometry": {"type": "Point", "coordinates": [115.974, 39.486]},
    "crs": "EPSG:4326",
    "data": {
        "channel": "119",
        "category": "rescue",
        "description": "居民被困，水位上涨",
        "people_trapped": 6,
    },
}
PAIRS = sorted((domain, event_type) for domain, models in REGISTRY.items() for event_type in models)
# Fields checked against another field (declared before them); a generated value may break
# the relation, and the error must then name the field. ("data",) is a whole-model rule.
CROSS_FIELD = {
    ("data", name)
    for name in (
        "beds_free",
        "icu_free",
        "deaths",
        "sensors_online",
        "value",
        "level1",
        "level2",
        "diagnosis_date",
        "level",
        "colour",
    )
} | {("data",)}


def test_design_example_call_validates() -> None:
    envelope = EventEnvelope.model_validate(DESIGN_CALL)
    assert validate_data(Domain.INCIDENT, envelope.type, envelope.data) == DESIGN_CALL["data"]


def test_every_domain_has_its_types() -> None:
    assert set(REGISTRY) == set(Domain)
    assert {"call", "cap-alert"} <= set(known_types("incident"))
    assert {"river_gauge", "reservoir", "rainfall", "inundation", "dike_breach"} <= set(
        known_types(Domain.FLOOD)
    )
    assert {"case_report", "syndromic_count", "hospital_capacity", "public_health_event"} <= set(
        known_types(Domain.HEALTH)
    )
    assert {"sensor_reading", "heartbeat", "accident_report", "inspection_finding"} <= set(
        known_types(Domain.SAFETY)
    )
    assert {"weather_warning", "earthquake", "cap-alert", "weather-alert", "flood-warning"} <= set(
        known_types(Domain.WARNING)
    )
    assert set(known_types(Domain.RESOURCE)) == {"unit_position", "facility_status"}


@pytest.mark.parametrize(("domain", "event_type"), PAIRS)
def test_documented_examples_validate(domain: Domain, event_type: str) -> None:
    schema = model_for(domain, event_type).model_json_schema()
    assert schema["examples"], "every model shows an example in OpenAPI"
    for example in schema["examples"]:
        validate_data(domain, event_type, example)


@pytest.mark.parametrize(
    ("domain", "event_type", "data", "loc"),
    [
        ("flood", "river_gauge", {"station_id": "1", "water_level_m": "high"}, "water_level_m"),
        (
            "flood",
            "river_gauge",
            {"station_id": "1", "water_level_m": float("nan")},
            "water_level_m",
        ),
        ("flood", "river_gauge", {"station_id": "1", "water_level_m": 1e6}, "water_level_m"),
        ("flood", "rainfall", {"station_id": "1", "mm_24h": -1}, "mm_24h"),
        ("incident", "call", {"channel": "911", "category": "fire"}, "channel"),
        ("incident", "call", {"channel": "110", "category": "fire", "x": 1}, "x"),
        (
            "incident",
            "call",
            {"channel": "110", "category": "crime", "casualties": {"deaths": -1}},
            "casualties",
        ),
        (
            "incident",
            "call",
            {"channel": "120", "category": "medical", "description": "x" * 2001},
            "description",
        ),
        ("safety", "accident_report", {"industry": "coal_mine", "deaths": -2}, "deaths"),
        (
            "safety",
            "sensor_reading",
            {"hazard_source_id": "h", "sensor_id": "s", "quantity": "gas_lel_pct", "value": 101},
            "value",
        ),
        (
            "health",
            "case_report",
            {
                "disease_code": "A00",
                "disease_name": "霍乱",
                "disease_class": "D",
                "onset_date": "2023-08-01",
            },
            "disease_class",
        ),
        (
            "health",
            "case_report",
            {
                "disease_code": "A00",
                "disease_name": "霍乱",
                "disease_class": "A",
                "onset_date": "2023-08-01",
                "county": "13068",
            },
            "county",
        ),
        (
            "health",
            "hospital_capacity",
            {"facility_id": "h", "beds_total": 10, "beds_free": 11},
            "beds_free",
        ),
        ("warning", "weather_warning", {"signal": "rainstorm", "colour": "purple"}, "colour"),
        ("warning", "weather_warning", {"signal": "heat", "colour": "blue"}, "colour"),
        ("warning", "earthquake", {"magnitude": 12.5}, "magnitude"),
        (
            "resource",
            "unit_position",
            {"unit_id": "u", "unit_type": "boat", "status": "lost"},
            "status",
        ),
        (
            "resource",
            "unit_position",
            {"unit_id": "u", "unit_type": "boat", "status": "available", "heading_deg": 360},
            "heading_deg",
        ),
    ],
)
def test_invalid_data_names_the_field(
    domain: str, event_type: str, data: dict[str, Any], loc: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_data(domain, event_type, data)
    assert caught.value.details[0]["loc"][:2] == ["data", loc]
    assert loc in caught.value.message


def test_rainfall_needs_an_amount() -> None:
    with pytest.raises(ValidationFailed, match="at least one"):
        validate_data("flood", "rainfall", {"station_id": "54511"})


def test_oxygen_thresholds_have_no_order() -> None:
    reading = {"hazard_source_id": "h", "sensor_id": "o2", "quantity": "oxygen_pct", "value": 20.9}
    validate_data("safety", "sensor_reading", {**reading, "level1": 23.5, "level2": 19.5})
    with pytest.raises(ValidationFailed):
        validate_data(
            "safety",
            "sensor_reading",
            {**reading, "quantity": "co_mgm3", "level1": 40, "level2": 20},
        )


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_data("flood", "tsunami", {})
    assert "river_gauge" in caught.value.message and "reservoir" in caught.value.message
    assert caught.value.details == [
        {"loc": ["type"], "msg": caught.value.details[0]["msg"]},
    ]


def test_unknown_domain_and_non_object_data() -> None:
    with pytest.raises(ValidationFailed, match="known domains"):
        validate_data("weather", "call", {})
    with pytest.raises(ValidationFailed, match="JSON object"):
        validate_data("incident", "call", ["119"])


def test_personal_fields_are_marked() -> None:
    assert personal_fields("incident", "call") == {"caller_phone", "caller_name"}
    assert personal_fields("health", "case_report") == {
        "patient_name",
        "patient_id_number",
        "patient_age_years",
        "patient_sex",
        "patient_phone",
        "patient_address",
    }
    schema = model_for("incident", "call").model_json_schema()
    assert schema["properties"]["caller_phone"]["personal"] is True


def test_channel_may_come_as_a_number() -> None:
    data = validate_data("incident", "call", {"channel": 122, "category": "traffic_accident"})
    assert data["channel"] == "122"


def assert_accepted_or_cross_field(domain: Domain, event_type: str, data: dict[str, Any]) -> None:
    try:
        clean = validate_data(domain, event_type, data)
    except ValidationFailed as error:
        assert {tuple(detail["loc"]) for detail in error.details} <= CROSS_FIELD, error.details
        return
    # Normalized data is a fixed point: what was accepted is accepted again unchanged.
    assert validate_data(domain, event_type, clean) == clean


@pytest.mark.parametrize(("domain", "event_type"), PAIRS)
def test_generated_data_validates(domain: Domain, event_type: str) -> None:
    strategy = from_schema(model_for(domain, event_type).model_json_schema())

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def check(data: dict[str, Any]) -> None:
        assert_accepted_or_cross_field(domain, event_type, data)

    check()

    def accepted(data: dict[str, Any]) -> bool:
        try:
            validate_data(domain, event_type, data)
        except ValidationFailed:
            return False
        return True

    # The generator does reach valid data for every model (not only cross-field refusals).
    find(strategy, accepted, settings=settings(max_examples=500, database=None, deadline=None))


JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PAIRS) | st.tuples(st.text(max_size=10), st.text(max_size=10)),
    st.dictionaries(st.text(max_size=12), JUNK, max_size=6) | JUNK,
)
def test_junk_only_raises_validation_failed(pair: tuple[str, str], data: Any) -> None:
    try:
        result = validate_data(pair[0], pair[1], data)
    except ValidationFailed as error:
        assert error.details and all("loc" in detail for detail in error.details)
        return
    assert isinstance(result, dict)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PAIRS), st.data())
def test_junk_in_one_field_of_valid_data_names_that_field(
    pair: tuple[Domain, str], draw: st.DataObject
) -> None:
    domain, event_type = pair
    model = model_for(domain, event_type)
    example = dict(model.model_json_schema()["examples"][0])
    field = draw.draw(st.sampled_from(sorted(model.model_fields)))
    example[field] = draw.draw(JUNK)
    try:
        validate_data(domain, event_type, example)
    except ValidationFailed as error:
        assert {detail["loc"][1] for detail in error.details if len(detail["loc"]) > 1} <= {
            field,
            *(loc[1] for loc in CROSS_FIELD if len(loc) > 1),
        }
