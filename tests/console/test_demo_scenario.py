"""The demo scenario file: every item is an event the feed API accepts, in time and in Hebei."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from streams.demo import SCENARIO_PATH, batches, load_scenario
from streams.domain import AGENCIES, Domain
from streams.envelope import EventEnvelope

# Hebei's bounding box, with no exceptions: the scenario is the Hebei part of the 23·7 flood.
LON = (113.4, 119.9)
LAT = (36.0, 42.7)
FIRST = datetime.fromisoformat("2023-07-27T00:00:00+08:00")
LAST = datetime.fromisoformat("2023-08-12T23:59:59+08:00")
# Which agency owns each kind of report (DESIGN.md: the desks and bureaus that push feeds).
CALL_DESKS = {"110": "public-security", "122": "public-security", "119": "fire", "120": "health"}
DOMAIN_OWNER = {"flood": "water", "warning": "meteorology", "resource": "fire"}

RAW: dict[str, Any] = json.loads(SCENARIO_PATH.read_text(encoding="utf-8"))
ITEMS: list[dict[str, Any]] = RAW["items"]


def _positions(coordinates: Any) -> list[list[float]]:
    if isinstance(coordinates[0], int | float):
        return [coordinates]
    return [p for part in coordinates for p in _positions(part)]


def test_scenario_has_substance() -> None:
    domains = {item["domain"] for item in ITEMS}
    assert domains == {"incident", "flood", "warning", "resource"}
    types = {item["event"]["type"] for item in ITEMS}
    assert {"call", "river_gauge", "rainfall", "weather_warning", "unit_position"} <= types
    assert len(ITEMS) >= 50
    source_ids = [item["event"]["source_id"] for item in ITEMS]
    assert len(source_ids) == len(set(source_ids)), "source ids are idempotency keys: unique"


@pytest.mark.parametrize("item", ITEMS, ids=[item["event"]["source_id"] for item in ITEMS])
def test_item_is_a_valid_event(item: dict[str, Any]) -> None:
    envelope = EventEnvelope.model_validate(item["event"])
    assert item["agency"] in {agency.code for agency in AGENCIES}
    assert isinstance(item["sample"], bool) and item["note"], "say what is real and what is not"

    # The per-domain schema of the data, as the intake applies it.
    from streams.schemas import validate_data

    validate_data(item["domain"], envelope.type, envelope.data)

    occurred = envelope.occurred_at
    assert occurred.utcoffset() is not None
    assert item["event"]["occurred_at"].endswith("+08:00"), "Beijing time, as the agencies send"
    assert FIRST <= occurred <= LAST
    assert envelope.geometry is not None
    for lon, lat in _positions(envelope.geometry.coordinates):
        assert LON[0] <= lon <= LON[1] and LAT[0] <= lat <= LAT[1], (lon, lat)

    if item["domain"] == "incident":
        assert item["agency"] == CALL_DESKS[envelope.data["channel"]]
    else:
        assert item["agency"] == DOMAIN_OWNER[item["domain"]]


def test_real_figures_of_the_notes_are_kept() -> None:
    """Spot checks against the research notes (§3), so that an edit cannot drift from them."""

    def data(source_id: str) -> dict[str, Any]:
        return next(i["event"]["data"] for i in ITEMS if i["event"]["source_id"] == source_id)

    zhangfang = [i for i in ITEMS if i["event"]["data"].get("station_name") == "张坊（拒马河）"]
    flows = {i["event"]["occurred_at"]: i["event"]["data"]["flow_m3s"] for i in zhangfang}
    assert flows["2023-07-31T11:00:00+08:00"] == 1610.0
    assert flows["2023-07-31T19:30:00+08:00"] == 4020.0
    liangjiazhuang = [
        i["event"]["data"] for i in ITEMS if "梁家庄" in i["event"]["data"].get("station_name", "")
    ]
    total = sum(d.get("mm_24h", 0) for d in liangjiazhuang) + sum(
        d.get("mm_3h", 0) for d in liangjiazhuang
    )
    assert round(total, 1) == 1003.3
    baiyangdian = [i for i in ITEMS if "十方院" in i["event"]["data"].get("station_name", "")]
    assert baiyangdian and all(i["event"]["data"]["warning_level_m"] == 7.5 for i in baiyangdian)
    assert data("FX-LGW-202307312300")["affected_people"] == 42000
    reds = [i for i in ITEMS if i["event"]["data"].get("colour") == "red"]
    assert any(i["event"]["data"]["issued_by"] == "中央气象台" for i in reds)


def test_loader_orders_and_batches() -> None:
    scenario = load_scenario()
    times = [item.occurred_at for item in scenario.items]
    assert times == sorted(times)
    assert scenario.start <= times[0] and times[-1] <= scenario.end
    plan = batches(scenario)
    assert sum(len(batch) for batch in plan) == len(scenario.items)
    for batch in plan:
        assert len({(i.agency, i.domain, i.occurred_at) for i in batch}) == 1
    assert scenario.agency_domains()["fire"] == {Domain.INCIDENT, Domain.RESOURCE}
