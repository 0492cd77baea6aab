"""CAP 1.2 / 1.1 intake: ``parse_cap`` reads a document of one or more alerts into events.

Documents: a single ``<alert>``; an EDXL-DE ``<EDXLDistribution>`` carrying alerts in
``contentObject/xmlContent/embeddedXMLContent``; an Atom ``<feed>`` (or one ``<entry>``) with alerts
inline in ``<content>``; and a bare ``<alerts>`` list in the CAP namespace, which is not CAP but is
what SMHI (Sweden) publishes.

One event per ``<info>`` block, not per info × area: all areas of an info share its hazard, times
and severity, so they are one event whose geometry is a MultiPolygon, which is what correlation
and the console want. An alert without ``<info>`` is one event of type ``cap-alert`` in the
warning domain (see ``cap_mapping.NO_INFO_DOMAIN``). Every event has type ``cap-alert``; the
hazard's category is in ``data["categories"]``. ``source_id`` is ``identifier#n`` (n the position
of the info), or the identifier alone for an alert without info.

Refusals: an unreadable document raises; a document that is one alert raises
``ValidationFailed`` if the alert breaks the OASIS schema; within a container each alert that
breaks the schema is refused on its own, and within an alert each info that cannot be mapped
(a time without zone, a broken polygon) is refused on its own (``ParseResult.rejected``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from lxml import etree

from command_center.intake.cap_info import AlertRefused, map_alert
from command_center.intake.result import ParsedItem, ParseResult, Rejection
from command_center.intake.xml_safety import parse_untrusted_xml
from infra.errors import InvalidInput, ValidationFailed

CAP_NAMESPACES: dict[str, str] = {
    "urn:oasis:names:tc:emergency:cap:1.2": "1.2",
    "urn:oasis:names:tc:emergency:cap:1.1": "1.1",
}
EDXL_NAMESPACES = frozenset(
    {"urn:oasis:names:tc:emergency:EDXL:DE:1.0", "urn:oasis:names:tc:emergency:EDXL:DE:2.0"}
)
ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
_DATA = Path(__file__).with_name("data")
# Only the first errors are worth reading; a broken generator repeats the same one.
MAX_SCHEMA_ERRORS = 10


def parse_cap(body: bytes, *, max_bytes: int) -> ParseResult:
    """Read a CAP document (see the module doc) into events, one per ``<info>``."""
    root = parse_untrusted_xml(body, max_bytes=max_bytes)
    single = _local(root) == "alert"
    found, rejected = _find_alerts(root)
    if not found and not rejected:
        raise ValidationFailed(
            "the document holds no CAP alert",
            details=[{"loc": ["body"], "msg": "no <alert> in a CAP 1.1 or 1.2 namespace"}],
        )
    items: list[ParsedItem] = []
    for index, alert in found:
        original = _original(body, alert) if single else _serialize(alert)
        try:
            version = _check_alert(alert)
            alert_items, info_rejections = map_alert(alert, version, original, index)
        except AlertRefused as refusal:
            if single:
                raise ValidationFailed(refusal.reason, details=list(refusal.details)) from None
            rejected.append(
                Rejection(index, _identifier(alert), refusal.reason, tuple(refusal.details))
            )
            continue
        items += alert_items
        rejected += info_rejections
    return ParseResult(tuple(items), tuple(rejected))


def _find_alerts(
    root: etree._Element,
) -> tuple[list[tuple[int, etree._Element]], list[Rejection]]:
    """The alert elements of a document, numbered in document order, and refused non-alerts."""
    namespace, name = _namespace(root), _local(root)
    if name == "alert":
        return [(0, root)], []
    if name == "alerts" and namespace in CAP_NAMESPACES:
        candidates = [child for child in root if isinstance(child.tag, str)]
    elif name == "EDXLDistribution" and namespace in EDXL_NAMESPACES:
        candidates = [
            child
            for holder in root.iter(f"{{{namespace}}}embeddedXMLContent")
            for child in holder
            if isinstance(child.tag, str)
        ]
    elif name in ("feed", "entry") and namespace == ATOM_NAMESPACE:
        entries = [root] if name == "entry" else list(root.iter(f"{{{ATOM_NAMESPACE}}}entry"))
        candidates = []
        for entry in entries:
            content = entry.find(f"{{{ATOM_NAMESPACE}}}content")
            inline = [] if content is None else [c for c in content if isinstance(c.tag, str)]
            # An entry that only links to its alert (NWS's Atom index) carries nothing to read.
            candidates += inline or [entry]
    else:
        raise InvalidInput(
            f"not a CAP document: the root element is <{name}>"
            + (f" in namespace {namespace}" if namespace else "")
            + "; expected a CAP 1.1/1.2 <alert>, EDXL-DE, an Atom feed of alerts or <alerts>"
        )
    found: list[tuple[int, etree._Element]] = []
    rejected: list[Rejection] = []
    for index, element in enumerate(candidates):
        if _local(element) == "alert":
            found.append((index, element))
        else:
            reason = f"<{_local(element)}> at line {element.sourceline} is not a CAP alert"
            rejected.append(Rejection(index, None, reason))
    return found, rejected


def _check_alert(alert: etree._Element) -> str:
    """The CAP version of an alert that passes its OASIS schema; ``AlertRefused`` otherwise."""
    namespace = _namespace(alert)
    version = CAP_NAMESPACES.get(namespace)
    if version is None:
        reason = (
            f"<alert> at line {alert.sourceline} is in namespace {namespace or '(none)'!r}, "
            "not urn:oasis:names:tc:emergency:cap:1.2 or …:cap:1.1"
        )
        raise AlertRefused(reason, ({"loc": ["body", "alert", "xmlns"], "msg": reason},))
    errors = _validate(version, alert)
    if errors:
        details = tuple(
            {
                "loc": ["body", "line", error.line],
                "msg": error.message,
                "line": error.line,
                "column": error.column,
            }
            for error in errors[:MAX_SCHEMA_ERRORS]
        )
        first = errors[0]
        raise AlertRefused(
            f"the alert breaks the CAP {version} schema: line {first.line}: {first.message}",
            details,
        )
    return version


_VALIDATION_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class SchemaError:
    line: int
    column: int
    message: str


def _validate(version: str, alert: etree._Element) -> list[SchemaError]:
    schema = _schema(version)
    # An XMLSchema keeps its error log on the object, so concurrent validations would mix logs.
    with _VALIDATION_LOCK:
        if schema.validate(alert):
            return []
        log = cast("Iterable[Any]", schema.error_log)  # lxml-stubs leave _ErrorLog opaque
        return [SchemaError(entry.line, entry.column, entry.message) for entry in log]


@functools.cache
def _schema(version: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    document = etree.parse(str(_DATA / f"CAP-v{version}.xsd"), parser)
    return etree.XMLSchema(document)


def _original(body: bytes, alert: etree._Element) -> str:
    """The alert as sent, when the document is the alert: signatures stay verifiable."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _serialize(alert)


def _serialize(alert: etree._Element) -> str:
    return etree.tostring(alert, encoding="unicode", with_tail=False)


def _identifier(alert: etree._Element) -> str | None:
    element = alert.find(f"{{{_namespace(alert)}}}identifier")
    text = None if element is None else (element.text or "").strip()
    return text or None


def _namespace(element: etree._Element) -> str:
    return etree.QName(element).namespace or ""


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname
