"""Detect: which events call for a response, of what category and how grave.

Rules come from the versioned rule set; every verdict carries a plain-language explanation so an
operator can see why an incident has its level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.domain import Domain, Event, Level
from streams.rules import Rules

_CHANNEL_NAMES = {
    "110": "110 报警",
    "119": "119 火警/救援",
    "120": "120 急救",
    "122": "122 交通事故",
}
_GRADED_FIELDS = {
    "deaths": "死亡 deaths",
    "serious_injuries": "重伤 serious injuries",
    "people_trapped": "被困 trapped",
}


@dataclass(frozen=True, slots=True)
class Detection:
    event: Event
    category: str
    level: Level
    title: str
    explanation: str


def _count(attributes: dict[str, Any], name: str) -> float:
    """A casualty count from the event's data: top level or under ``casualties``."""
    value = attributes.get(name)
    casualties = attributes.get("casualties")
    if value is None and isinstance(casualties, dict):
        value = casualties.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def grade(attributes: dict[str, Any], rules: Rules) -> tuple[Level, list[str]]:
    """The gravest level any casualty threshold reaches, with the reasons."""
    level = rules.default_level
    reasons: list[str] = []
    for field, thresholds in rules.casualty_grading.items():
        count = _count(attributes, field)
        for threshold in thresholds:  # ordered gravest first
            if count >= threshold.at_least:
                label = _GRADED_FIELDS.get(field, field)
                reasons.append(f"{label} {count:g} ≥ {threshold.at_least:g} → {threshold.level}")
                if threshold.level.rank > level.rank:
                    level = threshold.level
                break
    return level, reasons


def detect(events: list[Event], rules: Rules) -> list[Detection]:
    return [found for event in events if (found := _detect_one(event, rules)) is not None]


def _detect_one(event: Event, rules: Rules) -> Detection | None:
    if event.domain is not Domain.INCIDENT or event.geometry is None:
        return None
    raw_category = str(event.attributes.get("category") or "other")
    category = rules.known_category(raw_category)
    level, reasons = grade(event.attributes, rules)
    channel = str(event.attributes.get("channel") or "")
    source = _CHANNEL_NAMES.get(channel, f"{event.agency} {event.type}")
    why = "; ".join(reasons) if reasons else f"no threshold reached → default {level}"
    explanation = f"{source}: {category}; {why} (rules {rules.version})"
    description = str(event.attributes.get("description") or "").strip()
    title = rules.category_title(category) + (f" · {description[:60]}" if description else "")
    return Detection(event, category, level, title, explanation)
