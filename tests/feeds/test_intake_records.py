"""The intake's fast paths give exactly what the models would: event ids and raw-topic records."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command_center.feeds import IntakeItem, Receipt, fast_event_id
from command_center.intake import parse_cap
from command_center.routes.feeds import _fast, parse_json_body, read_json_events, validate_envelopes
from infra.errors import ValidationFailed
from streams.domain import Domain, event_id_for, utcnow
from streams.envelope import EventEnvelope, RawRecord
from tests.feeds.conftest import SHARED_DATA
from tests.feeds.test_hostile import typed_events
from tests.support import DESIGN_EXAMPLE

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60)


@given(TEXT, TEXT)
def test_fast_event_id_is_the_uuid5_of_the_domain(agency: str, source_id: str) -> None:
    assert fast_event_id(agency, source_id) == event_id_for(agency, source_id)


def model_record(event_id: str, agency: str, item: IntakeItem) -> RawRecord:
    return RawRecord(
        event_id=event_id,
        agency=agency,
        domain=item.domain,
        received_at=utcnow(),
        envelope=item.envelope,
        original=item.original,
    )


def test_receipt_text_is_the_raw_record() -> None:
    envelope = copy.deepcopy(DESIGN_EXAMPLE)
    envelope["data"]["description"] = 'quotes " and \\ and 水 and \u2028'
    cap = (SHARED_DATA / "cap" / "examples" / "taiwan.cap").read_bytes()
    (parsed,) = parse_cap(cap, max_bytes=1 << 20)
    items = [
        IntakeItem(Domain.INCIDENT, EventEnvelope.model_validate(envelope)),
        IntakeItem(parsed.domain, parsed.envelope, parsed.original),
    ]
    for item in items:
        received_at = utcnow()
        event_id = fast_event_id("fire", item.envelope.source_id)
        receipt = Receipt.of(event_id, "fire", item, received_at)
        decoded = RawRecord.model_validate_json(receipt.text)
        expected = model_record(event_id, "fire", item).model_copy(
            update={"received_at": received_at}
        )
        assert decoded == expected
        assert json.loads(receipt.text) == json.loads(expected.model_dump_json())
        assert receipt.source_id == item.envelope.source_id


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(typed_events(), min_size=1, max_size=4))
def test_fast_json_path_equals_the_careful_one(cases: list[tuple[str, dict[str, Any]]]) -> None:
    domain = Domain(cases[0][0])
    events = [envelope for kind, envelope in cases if kind == domain.value]
    body = json.dumps(events, ensure_ascii=False).encode()
    try:
        careful = validate_envelopes(domain, parse_json_body(body))
    except ValidationFailed as refused:
        with pytest.raises(ValidationFailed) as caught:
            read_json_events(domain, body)
        assert caught.value.to_json() == refused.to_json()
        return
    fast = _fast(domain, body)
    assert fast is not None
    assert [item.envelope.model_dump() for item in fast] == [
        item.envelope.model_dump() for item in careful
    ]
    assert [i.envelope.model_dump() for i in read_json_events(domain, body)] == [
        i.envelope.model_dump() for i in careful
    ]
