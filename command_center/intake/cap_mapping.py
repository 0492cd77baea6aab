"""From CAP terms to the platform's: domain per category, flood detection, China's warning
colours, severities. Tables are data, so that changing a mapping is a one-line, reviewable edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from streams.domain import Domain, Severity

# CAP <category> → platform domain. Hazards forecast by an agency (weather, earthquakes, the
# environment, anything else) are warnings; categories that describe something happening to
# people or property that dispatch desks answer are incidents; health and work safety (including
# chemical/biological/radiological hazards) have their own domains.
CATEGORY_DOMAIN: dict[str, Domain] = {
    "Met": Domain.WARNING,
    "Geo": Domain.WARNING,
    "Env": Domain.WARNING,
    "Other": Domain.WARNING,
    "Health": Domain.HEALTH,
    "Safety": Domain.SAFETY,
    "CBRNE": Domain.SAFETY,
    "Fire": Domain.INCIDENT,
    "Rescue": Domain.INCIDENT,
    "Security": Domain.INCIDENT,
    "Transport": Domain.INCIDENT,
    "Infra": Domain.INCIDENT,
}
# Categories whose flood-related alerts belong to flood control (防汛) rather than the table
# above: environmental hydrology, and water infrastructure such as reservoir releases and dikes
# (Taiwan's Water Resources Agency files its reservoir-release alerts under Infra).
FLOOD_CATEGORIES = frozenset({"Env", "Infra"})
# An alert without <info> names no hazard: it is a notice about earlier alerts (Cancel, Ack …).
NO_INFO_DOMAIN = Domain.WARNING

# SAME/NWS codes of flood products: flash flood and flood warnings, watches, statements.
FLOOD_EVENT_CODES = frozenset({"FFW", "FFA", "FFS", "FLW", "FLA", "FLS", "HYO"})
_FLOOD_WORDS = re.compile(
    r"flood|hydro|inundat|\bdam\b|dam[ -]?break|\bdikes?\b|\bdykes?\b|levee|reservoir|high water"
    r"|洪|涝|澇|汛|水位|水库|水庫|溃坝|潰壩|溃堤|潰堤|决口|決口|漫堤",
    re.IGNORECASE,
)

SEVERITY: dict[str, Severity] = {
    "Extreme": Severity.EXTREME,
    "Severe": Severity.SEVERE,
    "Moderate": Severity.MODERATE,
    "Minor": Severity.MINOR,
    "Unknown": Severity.UNKNOWN,
}

_COLOUR_RANK = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
_CHINESE_COLOUR = {
    "红": "red",
    "紅": "red",
    "橙": "orange",
    "黄": "yellow",
    "黃": "yellow",
    "蓝": "blue",
    "藍": "blue",
}
# Parameters whose name says they carry a colour or level (Color, alert_color, awareness_level,
# semáforo, 颜色, 预警级别 …): their values are read for colour words anywhere.
_COLOUR_PARAMETER = re.compile(
    r"colou?r|awareness|sem[aá]foro|level|signal|颜色|顏色|级别|級別|等级|等級|信号|信號",
    re.IGNORECASE,
)
_COLOUR_WORD = re.compile(r"\b(red|orange|yellow|blue)\b", re.IGNORECASE)
_CHINESE_IN_VALUE = re.compile(r"([红紅橙黄黃蓝藍])(?:色|$)")
# In free text a colour counts only where it grades a warning: "Yellow ice warning", "Code
# ORANGE", "暴雨红色预警" — not "Orange County", "Red River", "黄河" or NWS's "Red Flag Warning".
_COLOUR_IN_TEXT = re.compile(
    r"^\s*(red|orange|yellow|blue)\b(?!\s+flag)"
    r"|\b(red|orange|yellow|blue)\s+(?:warning|alert|level|signal|warn)"
    r"|\b(?:code|level|alert)\s+(red|orange|yellow|blue)\b",
    re.IGNORECASE,
)
_CHINESE_IN_TEXT = re.compile(r"([红紅橙黄黃蓝藍])色")


def domain_for(categories: list[str], event: str, event_codes: Iterable[str]) -> Domain:
    """The domain of one ``<info>``: its first category decides (the sender lists the main one
    first), except that flood-related Env/Infra alerts go to the flood domain."""
    if not categories:
        return NO_INFO_DOMAIN
    category = categories[0]
    if category in FLOOD_CATEGORIES and is_flood_related(event, event_codes):
        return Domain.FLOOD
    return CATEGORY_DOMAIN.get(category, Domain.WARNING)


def is_flood_related(event: str, event_codes: Iterable[str]) -> bool:
    if _FLOOD_WORDS.search(event):
        return True
    return any(
        code.strip().upper() in FLOOD_EVENT_CODES or _FLOOD_WORDS.search(code)
        for code in event_codes
    )


def warning_colour(
    parameters: Iterable[tuple[str, str]], event: str | None, headline: str | None
) -> str | None:
    """China's warning colour named by an alert, or None.

    Looked for in order of trust: colour/level parameters, then the event name, then the
    headline; the first place that names one decides, and if it names several the gravest wins.
    """
    found: list[str] = []
    for name, value in parameters:
        if _COLOUR_PARAMETER.search(name):
            found += [word.lower() for word in _COLOUR_WORD.findall(value)]
            found += [_CHINESE_COLOUR[char] for char in _CHINESE_IN_VALUE.findall(value.strip())]
    if found:
        return _gravest(found)
    for text in (event, headline):
        if not text:
            continue
        found = [
            next(group for group in match if group).lower()
            for match in _COLOUR_IN_TEXT.findall(text)
        ]
        found += [_CHINESE_COLOUR[char] for char in _CHINESE_IN_TEXT.findall(text)]
        if found:
            return _gravest(found)
    return None


def _gravest(colours: list[str]) -> str:
    return max(colours, key=lambda colour: _COLOUR_RANK[colour])
