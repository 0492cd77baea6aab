"""The versioned rule set (``streams/data/rules.json``) as typed objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from streams.domain import Level

RULES_FILE = Path(__file__).parent / "data" / "rules.json"


@dataclass(frozen=True, slots=True)
class Threshold:
    at_least: float
    level: Level


@dataclass(frozen=True, slots=True)
class Rules:
    version: str
    categories: dict[str, dict[str, str]]
    casualty_grading: dict[str, tuple[Threshold, ...]]
    default_level: Level
    response_plans: dict[str, dict[Level, tuple[tuple[str, str], ...]]]

    def category_title(self, category: str) -> str:
        return self.categories.get(category, self.categories["other"])["title_zh"]

    def known_category(self, category: str) -> str:
        return category if category in self.categories else "other"

    def plan(self, category: str, level: Level) -> list[tuple[str, str]]:
        """Every (agency, action) due at ``level``: the plan's rows at that level and below."""
        plan = self.response_plans.get(category, self.response_plans["other"])
        rows: list[tuple[str, str]] = []
        for step in (Level.IV, Level.III, Level.II, Level.I):
            rows.extend(plan.get(step, ()))
            if step == level:
                break
        return rows

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Rules:
        grading = {
            key: tuple(Threshold(float(n), Level(level)) for n, level in rows)
            for key, rows in value["casualty_grading"].items()
            if key != "about"
        }
        plans = {
            category: {Level(level): tuple((a, t) for a, t in rows) for level, rows in by.items()}
            for category, by in value["response_plans"].items()
            if category != "about"
        }
        return cls(
            version=value["version"],
            categories=value["incident_categories"],
            casualty_grading=grading,
            default_level=Level(value["default_level"]),
            response_plans=plans,
        )


@cache
def default_rules() -> Rules:
    return Rules.from_json(json.loads(RULES_FILE.read_text(encoding="utf-8")))
