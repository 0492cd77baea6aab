"""``POST /api/v1/feeds/{domain}``: agencies push events here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError
from shapely.errors import ShapelyError
from shapely.geometry import shape

from command_center.auth import AgencyPrincipal, KeyCache
from command_center.deps import RuntimeDep, get_agency
from command_center.feeds import FeedIntake, IntakeItem, database_unavailable
from command_center.intake import PROFILES, ParseResult, parse_cap, parse_geojson
from command_center.ratelimit import IntakeLimits, MemoryRateLimiter, RateLimiter, make_limiter
from gis.crs import resolve_crs, to_wgs84
from infra.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from infra.runtime import Runtime
from streams.domain import Domain
from streams.envelope import EventEnvelope
from streams.schemas import model_for, validate_data


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The rate limiter and the intake (its ledger writer task) live as long as the app, and are
    closed on the way out. Tests may preset ``app.state.intake_limits``; otherwise
    ``LINKAGE_INTAKE_*`` decides."""
    runtime = app.state.runtime
    limits: IntakeLimits | None = getattr(app.state, "intake_limits", None)
    limiter = make_limiter(runtime.settings, limits)
    app.state.intake_limiter = limiter
    intake = app.state.feed_intake = FeedIntake(runtime)
    try:
        yield
    finally:
        await intake.close()
        await limiter.close()


router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"], lifespan=_lifespan)

_JSON_TYPES = {"application/json", ""}
_CAP_TYPES = {"application/cap+xml", "application/xml", "text/xml", "application/atom+xml"}
_GEOJSON_TYPES = {"application/geo+json"}


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "intake_limiter", None)
    if limiter is None:  # an app used without its lifespan (no server): limit in-process
        limits = getattr(request.app.state, "intake_limits", None) or IntakeLimits()
        limiter = request.app.state.intake_limiter = MemoryRateLimiter(limits)
    return limiter


def _intake(request: Request, runtime: Runtime) -> FeedIntake:
    intake: FeedIntake | None = getattr(request.app.state, "feed_intake", None)
    if intake is None:  # likewise: one intake (one ledger writer) per app
        intake = request.app.state.feed_intake = FeedIntake(runtime)
    return intake


async def feed_agency(
    request: Request,
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Header(description="The agency's API key")] = None,
) -> AgencyPrincipal:
    """The calling agency, from its key alone; a database outage is a 503, not a 500. A key the
    server verified in the last seconds is answered from its cache without leaving the loop."""
    cache: KeyCache = request.app.state.key_cache
    cached = cache.get(x_api_key) if x_api_key else None
    if cached is not None:
        return cached
    try:
        return await asyncio.to_thread(get_agency, request, runtime, x_api_key)
    except Exception as exc:
        if database_unavailable(exc):
            raise ServiceUnavailable(
                "cannot check the API key: the database is unavailable; retry later",
                retry_after=5,
            ) from None
        raise


FeedAgency = Annotated[AgencyPrincipal, Depends(feed_agency)]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"request body of {declared} bytes; at most {limit} are accepted",
            details=[{"loc": ["body"], "msg": f"at most {limit} bytes"}],
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"request body over {limit} bytes",
                details=[{"loc": ["body"], "msg": f"at most {limit} bytes"}],
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _domain(value: str) -> Domain:
    try:
        return Domain(value)
    except ValueError:
        known = ", ".join(d.value for d in Domain)
        raise NotFound(
            f"unknown feed domain {value!r}; domains: {known}",
            details=[{"loc": ["path", "domain"], "msg": f"one of {known}"}],
        ) from None


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
        raise ValidationFailed("the batch is empty", details=[{"loc": ["body"], "msg": "empty"}])
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationFailed(
                "each event is a JSON object",
                details=[{"loc": [index], "msg": f"got {type(item).__name__}"}],
            )
    return items


def validate_envelopes(domain: Domain, items: Sequence[dict[str, Any]]) -> list[IntakeItem]:
    """Envelope, coordinates and per-type ``data`` schema; all-or-nothing for JSON batches."""
    accepted: list[IntakeItem] = []
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            envelope = EventEnvelope.model_validate(item)
            check_coordinates(envelope)
            # Validated data replaces the raw dict in place: a copy of the model per event
            # costs more than the check itself at thousands of events per second.
            envelope.data = validate_data(domain, envelope.type, envelope.data)
            accepted.append(IntakeItem(domain, envelope))
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                details.append(
                    {"loc": [index, *error["loc"]], "msg": error["msg"], "type": error["type"]}
                )
        except ValidationFailed as exc:
            details.extend({**d, "loc": [index, *d.get("loc", [])]} for d in exc.details)
    if details:
        bad = len({d["loc"][0] for d in details})
        first = details[0]
        where = f"[{first['loc'][0]}]" + "".join(f".{part}" for part in first["loc"][1:])
        raise ValidationFailed(
            f"{bad} of {len(items)} event(s) are invalid; nothing was accepted "
            f"(first: {where}: {first.get('msg', '')})",
            details=details[:100],
        )
    return accepted


_ENVELOPES = TypeAdapter(list[EventEnvelope])
_DATA_ADAPTERS: dict[type[BaseModel], TypeAdapter[list[Any]]] = {}


def read_json_events(domain: Domain, body: bytes) -> list[IntakeItem]:
    """The events of a JSON body. A fast path first: pydantic-core parses and validates the whole
    batch in one pass and each type's data in one call. If anything at all is wrong, the careful
    path (``parse_json_body`` and ``validate_envelopes``) does it again item by item: it alone
    decides what is refused and how the refusal reads, so both paths refuse the same bodies with
    the same errors, and valid batches do not pay for per-item error handling."""
    # json.loads (careful path) refuses these constants; pydantic's parser may not.
    if b"NaN" not in body and b"Infinity" not in body:
        try:
            items = _fast(domain, body)
        except (ValidationError, ValidationFailed, ValueError):
            items = None
        if items:
            return items
    return validate_envelopes(domain, parse_json_body(body))


def _fast(domain: Domain, body: bytes) -> list[IntakeItem] | None:
    stripped = body.lstrip()
    if stripped[:1] == b"{":
        envelopes = [EventEnvelope.model_validate_json(body)]
    elif stripped[:1] == b"[":
        envelopes = _ENVELOPES.validate_json(body)
    else:
        return None
    by_type: dict[str, list[EventEnvelope]] = {}
    for envelope in envelopes:
        check_coordinates(envelope)
        if not isinstance(envelope.data, dict):
            return None
        by_type.setdefault(envelope.type, []).append(envelope)
    for event_type, group in by_type.items():
        model = model_for(domain, event_type)
        adapter = _DATA_ADAPTERS.get(model)
        if adapter is None:
            adapter = _DATA_ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
        # As validate_data does it: validated, then plain JSON types with absent fields dropped.
        validated = adapter.validate_python([envelope.data for envelope in group])
        dumped = adapter.dump_python(validated, mode="json", exclude_none=True)
        for envelope, data in zip(group, dumped, strict=True):
            envelope.data = data
    return [IntakeItem(domain, envelope) for envelope in envelopes]


def check_coordinates(envelope: EventEnvelope) -> None:
    """Refuse at the door what normalize could never place: unknown CRS, off-Earth results."""
    geometry = envelope.geometry
    if geometry is None:
        return
    try:
        if geometry.type == "Point" and resolve_crs(envelope.crs).is_wgs84:
            # The common case (a call, a unit position) needs no shapely geometry: positions
            # are finite numbers already; only the range is left to check.
            lon, lat = geometry.coordinates[0], geometry.coordinates[1]
            if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
                return
        to_wgs84(shape(geometry.model_dump()), envelope.crs)
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.message, details=[{"loc": ["geometry"], "msg": exc.message}]
        ) from None
    except (ValueError, ShapelyError) as exc:
        message = f"geometry cannot be read: {exc}"
        raise ValidationFailed(message, details=[{"loc": ["geometry"], "msg": message}]) from None


@router.post(
    "/{domain}",
    status_code=202,
    summary="Push one event or a batch of events",
    description=(
        "The agency is the one of the `X-API-Key`; the body never names it. JSON bodies are one "
        "`EventEnvelope` or an array of them (all-or-nothing); CAP and GeoJSON documents are "
        "accepted item by item, refused items listed in `rejected`. Retrying the same "
        "`source_id` is answered as a duplicate with the same id."
    ),
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
        429: {"description": "Over the agency's rate (counted in events); see Retry-After"},
        503: {"description": "Bus or database unavailable; retry after Retry-After"},
    },
)
async def push_events(
    request: Request,
    runtime: RuntimeDep,
    agency: FeedAgency,
    domain: Annotated[str, Path(description="incident, flood, health, safety, warning, resource")],
    profile: Annotated[
        str | None,
        Query(description="GeoJSON mapping profile: " + ", ".join(sorted(PROFILES))),
    ] = None,
) -> JSONResponse:
    feed_domain = _domain(domain)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limiter = _limiter(request)
    try:
        items, rejected = await _read_items(
            request, runtime.settings.max_body_bytes, feed_domain, content_type, agency, profile
        )
    except (InvalidInput, ValidationFailed, PayloadTooLarge):
        # Refused requests cost one event, so that a broken client cannot flood us either.
        await limiter.take(agency.agency, 1)
        raise
    await limiter.take(agency.agency, max(1, len(items) + len(rejected)))
    result = await _intake(request, runtime).accept(agency, items, rejected)
    return JSONResponse(result.to_json(), status_code=202)


async def _read_items(
    request: Request,
    limit: int,
    feed_domain: Domain,
    content_type: str,
    agency: AgencyPrincipal,
    profile: str | None,
) -> tuple[list[IntakeItem], list[dict[str, Any]]]:
    if content_type in _JSON_TYPES:
        if feed_domain not in agency.domains:
            # Refuse before reading the body: the key decides, not the payload. (CAP documents
            # posted to one path map to several domains, so they are checked item by item.)
            allowed = ", ".join(sorted(d.value for d in agency.domains))
            raise PermissionDenied(
                f"agency {agency.agency!r} may not push into {feed_domain.value!r}; "
                f"this key allows: {allowed}",
                details=[{"loc": ["path", "domain"], "msg": f"this key allows: {allowed}"}],
            )
        body = await read_body(request, limit)
        return read_json_events(feed_domain, body), []
    if content_type in _GEOJSON_TYPES:
        if not profile:
            raise ValidationFailed(
                "GeoJSON needs ?profile= naming its mapping; profiles: "
                + ", ".join(sorted(PROFILES)),
                details=[{"loc": ["query", "profile"], "msg": "required for GeoJSON"}],
            )
        body = await read_body(request, limit)
        parsed = await asyncio.to_thread(parse_geojson, body, profile, max_bytes=limit)
        return _validated(parsed)
    if content_type in _CAP_TYPES:
        body = await read_body(request, limit)
        return _validated(await asyncio.to_thread(parse_cap, body, max_bytes=limit))
    raise UnsupportedMediaType(
        f"content type {content_type!r} is not accepted; send application/json, "
        "application/cap+xml or application/geo+json",
        details=[{"loc": ["header", "content-type"], "msg": "unsupported media type"}],
    )


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
            details=[
                {
                    "loc": [r.get("index")],
                    "msg": r.get("reason", ""),
                    "source_id": r.get("source_id"),
                }
                for r in rejected
            ][:100],
        )
    return items, rejected
