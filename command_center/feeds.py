"""Feed intake: validate what an agency sent, record it in the ledger, put it on the bus.

An event is acknowledged only after both the ledger row and the bus accepted it; when the bus is
down the ledger insert is rolled back and the caller gets 503, so nothing is accepted and dropped.
A retry of the same (agency, source_id) is answered as a duplicate with the same event id.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from command_center.auth import AgencyPrincipal
from infra.bus import BusRecord
from infra.db.models import FeedReceiptRow
from infra.db.upsert import insert_ignore
from infra.errors import InvalidInput, PermissionDenied, ValidationFailed
from infra.runtime import Runtime
from streams.domain import Domain, event_id_for, utcnow
from streams.envelope import EventEnvelope, RawRecord

# Events about nearby places share a partition (and so a worker and an order); ~11 km cells.
_CELL_DEGREES = 0.1


@dataclass(frozen=True, slots=True)
class IntakeResult:
    accepted: int
    duplicates: int
    ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "ids": self.ids}


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json_body(body: bytes) -> list[dict[str, Any]]:
    """One event object or an array of them; NaN/Infinity and runaway nesting are refused."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidInput("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValidationFailed("the batch is empty")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationFailed(
                "each event is a JSON object",
                details=[{"loc": [index], "msg": f"got {type(item).__name__}"}],
            )
    return items


def validate_envelopes(items: Sequence[dict[str, Any]]) -> list[EventEnvelope]:
    envelopes: list[EventEnvelope] = []
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            envelopes.append(EventEnvelope.model_validate(item))
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                details.append(
                    {"loc": [index, *error["loc"]], "msg": error["msg"], "type": error["type"]}
                )
    if details:
        raise ValidationFailed(
            f"{len({d['loc'][0] for d in details})} of {len(items)} event(s) are invalid; "
            "nothing was accepted",
            details=details[:100],
        )
    return envelopes


def partition_key(agency: str, envelope: EventEnvelope) -> bytes:
    geometry = envelope.geometry
    if geometry is None:
        return agency.encode()
    first: Any = geometry.coordinates
    while isinstance(first, list) and first and isinstance(first[0], list):
        first = first[0]
    lon, lat = float(first[0]), float(first[1])
    return f"{math.floor(lon / _CELL_DEGREES)}:{math.floor(lat / _CELL_DEGREES)}".encode()


class FeedIntake:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def accept(
        self, principal: AgencyPrincipal, domain: Domain, envelopes: Sequence[EventEnvelope]
    ) -> IntakeResult:
        if domain not in principal.domains:
            raise PermissionDenied(
                f"agency {principal.agency!r} may not push into {domain.value!r}; "
                f"this key allows: {', '.join(sorted(d.value for d in principal.domains))}"
            )
        limit = self.runtime.settings.max_batch_events
        if len(envelopes) > limit:
            from infra.errors import PayloadTooLarge

            raise PayloadTooLarge(f"{len(envelopes)} events in one request; at most {limit}")
        received_at = utcnow()
        ids: list[str] = []
        records: dict[str, RawRecord] = {}
        for envelope in envelopes:
            event_id = event_id_for(principal.agency, envelope.source_id)
            ids.append(event_id)
            records.setdefault(
                event_id,
                RawRecord(
                    event_id=event_id,
                    agency=principal.agency,
                    domain=domain,
                    received_at=received_at,
                    envelope=envelope,
                ),
            )
        fresh = await self._record_and_publish(list(records.values()))
        metrics = self.runtime.metrics
        metrics.events_in.labels(domain.value).inc(len(fresh))
        metrics.events_duplicate.labels(domain.value).inc(len(ids) - len(fresh))
        return IntakeResult(accepted=len(fresh), duplicates=len(ids) - len(fresh), ids=ids)

    async def _record_and_publish(self, records: list[RawRecord]) -> list[RawRecord]:
        session = self.runtime.sessions()
        try:
            session.begin()
            fresh_ids = set(await asyncio.to_thread(self._insert_receipts, session, records))
            fresh = [record for record in records if record.event_id in fresh_ids]
            if fresh:
                await self.runtime.bus.publish(
                    self.runtime.bus.topics.raw,
                    [
                        BusRecord(
                            partition_key(record.agency, record.envelope),
                            record.model_dump_json().encode(),
                        )
                        for record in fresh
                    ],
                )
            await asyncio.to_thread(session.commit)
            return fresh
        except BaseException:
            await asyncio.to_thread(session.rollback)
            raise
        finally:
            await asyncio.to_thread(session.close)

    @staticmethod
    def _insert_receipts(session: Session, records: list[RawRecord]) -> list[str]:
        rows = [
            {
                "event_id": record.event_id,
                "agency": record.agency,
                "source_id": record.envelope.source_id,
                "domain": record.domain.value,
                "received_at": record.received_at,
                "record": record.model_dump(mode="json"),
            }
            for record in records
        ]
        return insert_ignore(
            session,
            FeedReceiptRow.__table__,  # type: ignore[arg-type]
            rows,
            conflict=("agency", "source_id"),
            returning="event_id",
        )
