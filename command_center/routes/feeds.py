"""``POST /api/v1/feeds/{domain}``: agencies push events here."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from command_center.deps import AgencyDep, RuntimeDep
from command_center.feeds import FeedIntake, IntakeItem, parse_json_body, validate_envelopes
from command_center.intake import PROFILES, ParseResult, parse_cap, parse_geojson
from infra.errors import (
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMediaType,
    ValidationFailed,
)
from streams.domain import Domain
from streams.schemas import validate_data

router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"])

_JSON_TYPES = {"application/json", ""}
_CAP_TYPES = {"application/cap+xml", "application/xml", "text/xml", "application/atom+xml"}
_GEOJSON_TYPES = {"application/geo+json"}


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes; at most {limit} are accepted")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _domain(value: str) -> Domain:
    try:
        return Domain(value)
    except ValueError:
        known = ", ".join(d.value for d in Domain)
        raise NotFound(f"unknown feed domain {value!r}; domains: {known}") from None


@router.post(
    "/{domain}",
    status_code=202,
    summary="Push one event or a batch of events",
    # The body is read by hand (size limit first, several formats), so it is documented here.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/cap+xml": {"schema": {"type": "string"}},
                "application/geo+json": {"schema": {"type": "object"}},
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/EventEnvelope"},
                            {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/EventEnvelope"},
                            },
                        ]
                    }
                },
            },
        }
    },
    responses={
        202: {"description": "Accepted: counts and the event ids, in request order"},
        400: {"description": "Unreadable body"},
        401: {"description": "Missing or invalid X-API-Key"},
        403: {"description": "The key may not push into this domain"},
        404: {"description": "Unknown domain"},
        413: {"description": "Body or batch too large"},
        415: {"description": "Unsupported content type"},
        422: {"description": "Schema errors, with the failing fields"},
        503: {"description": "Bus or database unavailable; retry after Retry-After"},
    },
)
async def push_events(
    request: Request,
    runtime: RuntimeDep,
    agency: AgencyDep,
    domain: Annotated[str, Path(description="incident, flood, health, safety, warning, resource")],
    profile: Annotated[
        str | None,
        Query(description="GeoJSON mapping profile: " + ", ".join(sorted(PROFILES))),
    ] = None,
) -> JSONResponse:
    feed_domain = _domain(domain)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = runtime.settings.max_body_bytes
    if content_type in _JSON_TYPES:
        if feed_domain not in agency.domains:
            # Refuse before reading the body: the key decides, not the payload.
            allowed = ", ".join(sorted(d.value for d in agency.domains))
            raise PermissionDenied(
                f"agency {agency.agency!r} may not push into {feed_domain.value!r}; "
                f"this key allows: {allowed}"
            )
        body = await read_body(request, limit)
        items = validate_envelopes(feed_domain, parse_json_body(body))
        rejected: list[dict[str, Any]] = []
    elif content_type in _CAP_TYPES or content_type in _GEOJSON_TYPES:
        body = await read_body(request, limit)
        if content_type in _GEOJSON_TYPES:
            if not profile:
                raise ValidationFailed(
                    "GeoJSON needs ?profile= naming its mapping; profiles: "
                    + ", ".join(sorted(PROFILES)),
                    details=[{"loc": ["query", "profile"], "msg": "required for GeoJSON"}],
                )
            parsed = await asyncio.to_thread(parse_geojson, body, profile, max_bytes=limit)
        else:
            parsed = await asyncio.to_thread(parse_cap, body, max_bytes=limit)
        items, rejected = _validated(parsed)
    else:
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not accepted; send application/json, "
            "application/cap+xml or application/geo+json"
        )
    result = await FeedIntake(runtime).accept(agency, items, rejected)
    return JSONResponse(result.to_json(), status_code=202)


def _validated(parsed: ParseResult) -> tuple[list[IntakeItem], list[dict[str, Any]]]:
    """Items of a multi-event document pass or fail one by one; none passing is a 422."""
    items: list[IntakeItem] = []
    rejected = [rejection.to_json() for rejection in parsed.rejected]
    for index, item in enumerate(parsed.items):
        try:
            data = validate_data(item.domain, item.envelope.type, item.envelope.data)
        except ValidationFailed as exc:
            rejected.append(
                {"index": index, "source_id": item.envelope.source_id, "reason": exc.message}
            )
            continue
        envelope = item.envelope.model_copy(update={"data": data})
        items.append(IntakeItem(item.domain, envelope, item.original))
    if not items:
        raise ValidationFailed(
            "no event in the document could be accepted",
            details=[{"loc": [r.get("index")], "msg": r.get("reason", "")} for r in rejected][:100],
        )
    return items, rejected
