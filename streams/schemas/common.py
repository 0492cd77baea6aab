"""Building blocks shared by the per-domain data models.

Policy for unknown fields: every model forbids them (``extra="forbid"``). An agency that sends a
field we do not know gets a 422 naming it, instead of data that is silently dropped or stored
unvalidated; new fields are added to the model, where they are documented and range-checked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

# Strings are bounded so that one event cannot carry megabytes of free text into every stage.
Text = Annotated[str, StringConstraints(max_length=2000)]
LongText = Annotated[str, StringConstraints(max_length=50_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Url = Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://\S+$")]
# Administrative division code of the NBS (6 digits: province, city, county).
Adcode = Annotated[str, StringConstraints(pattern=r"^[1-8][0-9]{5}$")]

# Counts of people or things: never negative; the upper bound only stops absurd input.
Count = Annotated[int, Field(ge=0, le=100_000_000)]
Percent = Annotated[float, Field(ge=0, le=100)]

Colour = Literal["blue", "yellow", "orange", "red"]
LevelCode = Literal["I", "II", "III", "IV"]

COLOUR_LEVEL: dict[str, str] = {"red": "I", "orange": "II", "yellow": "III", "blue": "IV"}


class DataModel(BaseModel):
    """Base of every ``data`` model: unknown fields refused, numbers finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# Marks a field as personal data, so that exports, logs and the console can redact it.
PERSONAL: dict[str, JsonValue] = {"personal": True}


def not_above(field: str, bound: str) -> Any:
    """A validator refusing ``field`` greater than ``bound`` (declared before it), e.g. free beds
    above total beds; the error names ``field``."""

    def check(value: int | None, info: ValidationInfo) -> int | None:
        limit = info.data.get(bound)
        if value is not None and limit is not None and value > limit:
            raise ValueError(f"{field} ({value}) exceeds {bound} ({limit})")
        return value

    return field_validator(field)(check)
