"""Reading feed files into uploads for ``linkage feed push``: JSON events (one object, an
array, or NDJSON lines) in batches, CAP XML and GeoJSON documents whole."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from infra.errors import ValidationFailed

JSON_SUFFIXES = frozenset({".json"})
NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})
CAP_SUFFIXES = frozenset({".xml", ".cap"})
GEOJSON_SUFFIXES = frozenset({".geojson"})
KNOWN_SUFFIXES = JSON_SUFFIXES | NDJSON_SUFFIXES | CAP_SUFFIXES | GEOJSON_SUFFIXES

Kind = Literal["json", "cap", "geojson"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """An item (or a whole file, ``index`` None) that did not get in, and why. ``index`` is the
    position in the document (array index, feature, CAP info), or the line for NDJSON files."""

    source: str
    index: int | None
    source_id: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "index": self.index,
            "source_id": self.source_id,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        if self.index is None:
            where = self.source
        elif Path(self.source).suffix.lower() in NDJSON_SUFFIXES:
            where = f"{self.source}:{self.index}"  # file:line, as compilers write it
        else:
            where = f"{self.source} [{self.index}]"
        who = f" {self.source_id}" if self.source_id else ""
        return f"{where}{who}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Upload:
    """One request: a JSON batch (``events`` and their ``positions`` in the file: array index,
    or line for NDJSON) or a whole document."""

    source: str
    kind: Kind
    body: bytes
    events: tuple[Any, ...] = ()
    positions: tuple[int, ...] = ()
    profile: str | None = None

    @property
    def content_type(self) -> str:
        return {
            "json": "application/json",
            "cap": "application/cap+xml",
            "geojson": "application/geo+json",
        }[self.kind]

    @property
    def first(self) -> int | None:
        return self.positions[0] if self.positions else None

    def subset(self, indices: Iterable[int]) -> Upload:
        """The same batch with only some of its events (indices within the batch)."""
        chosen = sorted(indices)
        return json_batch(
            self.source, [(self.positions[i], self.events[i]) for i in chosen], replace(self)
        )


def json_batch(source: str, items: list[tuple[int, Any]], base: Upload | None = None) -> Upload:
    body = json.dumps([event for _, event in items], ensure_ascii=False, allow_nan=False)
    return replace(
        base or Upload(source, "json", b""),
        body=body.encode(),
        events=tuple(event for _, event in items),
        positions=tuple(position for position, _ in items),
    )


def collect(path: Path) -> tuple[list[Path], list[str]]:
    """The files to push (a directory is walked, sorted) and those skipped for their suffix."""
    if path.is_file():
        return [path], []
    if not path.is_dir():
        raise ValidationFailed(f"{path} is neither a file nor a directory")
    files: list[Path] = []
    skipped: list[Path] = []
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        (files if child.suffix.lower() in KNOWN_SUFFIXES else skipped).append(child)
    return files, [str(p) for p in skipped if not p.name.startswith(".")]


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def guess_profile(document: Any) -> str | None:
    """The GeoJSON profile of a document, from the shape of its features' properties."""
    if not isinstance(document, dict):
        return None
    features = document.get("features") if document.get("type") == "FeatureCollection" else None
    candidates = features if isinstance(features, list) else [document]
    for feature in candidates[:20]:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            continue
        if "mag" in properties and "time" in properties:
            return "usgs-earthquakes"
        if "event" in properties and ("sent" in properties or "messageType" in properties):
            return "nws-alerts"
    if isinstance(document.get("@context"), list | dict) and candidates == []:
        return "nws-alerts"  # an empty api.weather.gov answer
    return None


def read_file(
    path: Path, *, batch_size: int, profile: str | None
) -> tuple[list[Upload], list[Refusal]]:
    """Uploads for one file, and what could not even be read (refused locally, not sent)."""
    source = str(path)
    suffix = path.suffix.lower()
    raw = path.read_bytes()
    if suffix in CAP_SUFFIXES:
        return [Upload(source, "cap", raw)], []
    if suffix in NDJSON_SUFFIXES:
        return _ndjson(source, raw, batch_size)
    try:
        document = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        return [], [Refusal(source, None, None, f"not readable as JSON: {exc}")]
    is_geojson = isinstance(document, dict) and document.get("type") in (
        "FeatureCollection",
        "Feature",
    )
    if suffix in GEOJSON_SUFFIXES or is_geojson:
        chosen = profile or guess_profile(document)
        if chosen is None:
            reason = "GeoJSON of an unknown kind: name its mapping with --profile"
            return [], [Refusal(source, None, None, reason)]
        return [Upload(source, "geojson", raw, profile=chosen)], []
    events = document if isinstance(document, list) else [document]
    return _batches(source, list(enumerate(events)), batch_size), []


def _ndjson(source: str, raw: bytes, batch_size: int) -> tuple[list[Upload], list[Refusal]]:
    events: list[tuple[int, Any]] = []
    refused: list[Refusal] = []
    lines = raw.decode("utf-8-sig", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append((number, json.loads(line, parse_constant=_no_constants)))
        except (ValueError, RecursionError) as exc:
            refused.append(Refusal(source, number, None, f"not JSON: {exc}"))
    return _batches(source, events, batch_size), refused


def _batches(source: str, events: list[tuple[int, Any]], batch_size: int) -> list[Upload]:
    return [
        json_batch(source, events[start : start + batch_size])
        for start in range(0, len(events), batch_size)
    ]


# --- sending ----------------------------------------------------------------------------------
