"""Agency feed intake formats: pure, framework-free parsers from a request body to events.

``parse_cap`` reads CAP 1.2/1.1 XML (single alerts, EDXL-DE, Atom, SMHI's ``<alerts>``);
``parse_geojson`` reads GeoJSON feeds through a named profile (``usgs-earthquakes``,
``nws-alerts``). Both return a ``ParseResult``: the accepted ``ParsedItem``s and the items
refused one by one; an unreadable document raises a ``LinkageError``.
"""

from command_center.intake.cap import parse_cap
from command_center.intake.geojson_profiles import PROFILES, parse_geojson
from command_center.intake.result import ParsedItem, ParseResult, Rejection

__all__ = ["PROFILES", "ParseResult", "ParsedItem", "Rejection", "parse_cap", "parse_geojson"]
