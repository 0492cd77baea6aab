"""Which model validates the ``data`` of an event of (domain, type)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from infra.errors import ValidationFailed
from streams.domain import Domain
from streams.schemas import flood, health, incident, resource, safety, warning
from streams.schemas.common import DataModel

# CAP alerts land in the domain their category maps to (see command_center.intake.cap_mapping),
# so the CAP model is valid in every domain that mapping can produce; NWS flood warnings are
# flood-domain events, other NWS alerts warning-domain ones.
_CAP_ANYWHERE: dict[str, type[DataModel]] = {"cap-alert": warning.CapAlert}

REGISTRY: dict[Domain, dict[str, type[DataModel]]] = {
    Domain.INCIDENT: {**incident.MODELS, **_CAP_ANYWHERE},
    Domain.FLOOD: {**flood.MODELS, **_CAP_ANYWHERE, "flood-warning": warning.WeatherAlert},
    Domain.HEALTH: {**health.MODELS, **_CAP_ANYWHERE},
    Domain.SAFETY: {**safety.MODELS, **_CAP_ANYWHERE},
    Domain.WARNING: dict(warning.MODELS),
    Domain.RESOURCE: dict(resource.MODELS),
}

# A payload with thousands of errors would produce a response bigger than the request.
MAX_DETAILS = 50


def known_types(domain: Domain | str) -> list[str]:
    """The event types of a domain, sorted."""
    return sorted(REGISTRY[_domain(domain)])


def model_for(domain: Domain | str, event_type: str) -> type[DataModel]:
    """The model of (domain, type); ``ValidationFailed`` naming the known types otherwise."""
    models = REGISTRY[_domain(domain)]
    model = models.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        known = ", ".join(sorted(models))
        raise ValidationFailed(
            f"unknown event type {event_type!r} in domain {domain}; known types: {known}",
            details=[{"loc": ["type"], "msg": f"unknown event type; known types: {known}"}],
        )
    return model


def validate_data(domain: Domain | str, event_type: str, data: Any) -> dict[str, Any]:
    """Validate an envelope's ``data`` against the model of (domain, type).

    Returns the normalized data (JSON types, absent optional fields dropped). Raises
    ``ValidationFailed`` whose details carry ``loc`` like ``["data", "water_level_m"]``.
    """
    model = model_for(domain, event_type)
    if not isinstance(data, dict):
        raise ValidationFailed(
            f"data of a {event_type} event must be a JSON object",
            details=[{"loc": ["data"], "msg": "must be a JSON object"}],
        )
    try:
        validated = model.model_validate(data)
    except ValidationError as error:
        details = [
            {"loc": ["data", *item["loc"]], "msg": item["msg"], "type": item["type"]}
            for item in error.errors(include_url=False, include_input=False)[:MAX_DETAILS]
        ]
        first = details[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationFailed(
            f"invalid data for {domain}/{event_type}: {where}: {first['msg']}", details=details
        ) from None
    return validated.model_dump(mode="json", exclude_none=True)


def personal_fields(domain: Domain | str, event_type: str) -> frozenset[str]:
    """Top-level fields of (domain, type) that hold personal data, for redaction."""
    model = model_for(domain, event_type)
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("personal")
    )


def _domain(domain: Domain | str) -> Domain:
    try:
        return Domain(domain)
    except ValueError:
        known = ", ".join(item.value for item in Domain)
        raise ValidationFailed(
            f"unknown domain {domain!r}; known domains: {known}",
            details=[{"loc": ["domain"], "msg": f"unknown domain; known domains: {known}"}],
        ) from None
