"""The one table from the exception hierarchy to HTTP, and the handlers that apply it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from infra.errors import (
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    InvalidInput,
    LinkageError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

log = logging.getLogger(__name__)

HTTP_STATUS: dict[type[LinkageError], int] = {
    InvalidInput: 400,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    ValidationFailed: 422,
    RateLimited: 429,
    ConfigurationError: 500,
    ServiceUnavailable: 503,
}
_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


def status_of(error: LinkageError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def error_response(error: LinkageError) -> JSONResponse:
    headers: dict[str, str] = {}
    status = status_of(error)
    if error.retry_after is not None or status in (429, 503):
        headers["Retry-After"] = str(error.retry_after or 5)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error.to_json(), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(LinkageError)
    async def _linkage(_request: Request, exc: LinkageError) -> JSONResponse:
        if status_of(exc) >= 500:
            log.warning("%s: %s", type(exc).__name__, exc.message)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return error_response(ValidationFailed("the request is invalid", details=details[:100]))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        body = {"error": {"code": code, "message": str(exc.detail), "details": []}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        body = {"error": {"code": "internal_error", "message": "internal error", "details": []}}
        return JSONResponse(body, status_code=500)
