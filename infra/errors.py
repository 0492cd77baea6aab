"""One exception hierarchy for the whole platform.

Every error a caller can cause or must react to is a :class:`LinkageError`; the HTTP adapter maps
each class to a status code through ``HTTP_STATUS`` (one table, in ``command_center.errors``), and
the CLI prints ``message`` on one line instead of a traceback.
"""

from __future__ import annotations

from typing import Any


class LinkageError(Exception):
    """Base class. ``code`` is the stable machine-readable name in the JSON error body."""

    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigurationError(LinkageError):
    code = "configuration_error"


class ServiceUnavailable(LinkageError):
    """A backend (bus, database, pub/sub) cannot be reached; the caller should retry later."""

    code = "service_unavailable"


class InvalidInput(LinkageError):
    """The request could not be read at all (malformed JSON or XML, bad encoding)."""

    code = "invalid_input"


class ValidationFailed(LinkageError):
    """The request was readable but its content breaks the schema; ``details`` name fields."""

    code = "validation_failed"


class AuthenticationFailed(LinkageError):
    code = "unauthenticated"


class PermissionDenied(LinkageError):
    code = "forbidden"


class NotFound(LinkageError):
    code = "not_found"


class Conflict(LinkageError):
    code = "conflict"


class PayloadTooLarge(LinkageError):
    code = "payload_too_large"


class UnsupportedMediaType(LinkageError):
    code = "unsupported_media_type"


class RateLimited(LinkageError):
    code = "rate_limited"
