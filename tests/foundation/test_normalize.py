"""Normalize: the rules a record meets however it arrived (HTTP or produced to Kafka)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import shapely
from pydantic import ValidationError

from streams.domain import event_id_for
from streams.envelope import EventEnvelope, RawRecord
from streams.normalize import normalize, repair
from tests.support import DESIGN_EXAMPLE


def _record(envelope: dict[str, Any], **fields: Any) -> RawRecord:
    return RawRecord.model_validate(
        {
            "event_id": "not-the-real-id",
            "agency": "fire",
            "domain": "incident",
            "received_at": "2023-07-31T08:13:00+08:00",
            "envelope": envelope,
            **fields,
        }
    )


def test_event_ids_come_from_the_natural_key_not_the_producer() -> None:
    events, rejected = normalize([_record(DESIGN_EXAMPLE)])
    assert rejected == []
    assert events[0].id == event_id_for("fire", "110-20230731-0001")


def test_gcj02_points_are_stored_in_wgs84() -> None:
    envelope = copy.deepcopy(DESIGN_EXAMPLE) | {"crs": "GCJ-02"}
    (event,), _ = normalize([_record(envelope)])
    assert event.geometry is not None
    # GCJ-02 lies a few hundred metres north-east of WGS-84 around Beijing–Hebei.
    assert 115.96 < event.geometry.x < 115.974 and 39.484 < event.geometry.y < 39.486


def test_data_breaking_its_schema_is_rejected_with_the_reason() -> None:
    envelope = copy.deepcopy(DESIGN_EXAMPLE)
    envelope["data"]["people_trapped"] = -3
    events, rejected = normalize([_record(envelope)])
    assert events == [] and rejected[0].stage == "normalize"
    assert "people_trapped" in rejected[0].reason


def test_a_self_intersecting_area_stays_an_area() -> None:
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    fixed = repair(bowtie)
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and fixed.area == 2.0


@pytest.mark.parametrize("value", [1690762320, 1690762320000.0])
def test_bare_numbers_are_not_times(value: float) -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        EventEnvelope.model_validate(DESIGN_EXAMPLE | {"occurred_at": value})
