"""``POST /api/v1/feeds/{domain}``: agencies push events here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from command_center.deps import AgencyDep, RuntimeDep
from command_center.feeds import FeedIntake, parse_json_body, validate_envelopes
from infra.errors import NotFound, PayloadTooLarge, UnsupportedMediaType
from streams.domain import Domain

router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"])

_JSON_TYPES = {"application/json", "application/x-ndjson", ""}


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
                }
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
) -> JSONResponse:
    feed_domain = _domain(domain)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not accepted; send application/json"
        )
    body = await read_body(request, runtime.settings.max_body_bytes)
    envelopes = validate_envelopes(parse_json_body(body))
    result = await FeedIntake(runtime).accept(agency, feed_domain, envelopes)
    return JSONResponse(result.to_json(), status_code=202)
