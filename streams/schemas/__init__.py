"""Per-domain models of an event's ``data`` (pydantic v2), and the registry that picks one.

One module per domain; every model forbids unknown fields, keeps numbers finite and in physical
ranges, bounds strings, documents units in field descriptions and marks personal data with
``json_schema_extra={"personal": True}``.
"""

from streams.schemas.registry import (
    REGISTRY,
    known_types,
    model_for,
    personal_fields,
    validate_data,
)

__all__ = ["REGISTRY", "known_types", "model_for", "personal_fields", "validate_data"]
