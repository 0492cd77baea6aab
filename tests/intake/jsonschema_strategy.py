"""A hypothesis strategy for the subset of JSON Schema that the data models produce.

Kept small on purpose: it covers exactly the keywords ``model_json_schema()`` emits for
``streams.schemas`` and fails loudly on anything else, so a new keyword cannot be silently
ignored by the property tests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

_IGNORED = {"title", "description", "default", "examples", "personal"}
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _strategy(schema, schema.get("$defs", {}))


def _strategy(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    keys = set(schema) - _IGNORED
    if "$ref" in schema:
        return st.deferred(lambda: _strategy(defs[schema["$ref"].rsplit("/", 1)[1]], defs))
    if "anyOf" in schema:
        return st.one_of([_strategy(option, defs) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema.get("minimum", -(10**9)), schema.get("maximum", 10**9)
        if "exclusiveMaximum" in schema:
            high = schema["exclusiveMaximum"] - 1
        return st.integers(low, high)
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum", -1e12),
            max_value=schema.get("maximum", schema.get("exclusiveMaximum", 1e12)),
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "string":
        return _string(schema)
    if kind == "array":
        return st.lists(
            _strategy(schema["items"], defs), max_size=min(schema.get("maxItems", 3), 3)
        )
    if kind == "object" and "properties" in schema:
        properties = {name: _strategy(sub, defs) for name, sub in schema["properties"].items()}
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {name: value for name, value in properties.items() if name in required},
            optional={name: value for name, value in properties.items() if name not in required},
        )
    if kind == "object":
        key_schema = {"type": "string", **schema.get("propertyNames", {})}
        return st.dictionaries(
            _string(key_schema), _strategy(schema["additionalProperties"], defs), max_size=3
        )
    raise NotImplementedError(f"JSON Schema keywords not covered: {sorted(keys)}")


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
    fmt = schema.get("format")
    if fmt == "date":
        return st.dates(date(1900, 1, 1), date(2100, 1, 1)).map(date.isoformat)
    if fmt == "date-time":
        zones = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
        return st.datetimes(
            datetime(1900, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC) | zones
        ).map(datetime.isoformat)
    if fmt is not None:
        raise NotImplementedError(f"string format {fmt}")
    base = st.from_regex(schema["pattern"], fullmatch=True) if "pattern" in schema else _TEXT
    return base.filter(lambda text: low <= len(text) <= high)
