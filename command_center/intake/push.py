"""Pushing feed files to a server: what ``linkage feed push`` does, without the command line.

Files become uploads: JSON events (one object, an array, or NDJSON lines) in batches, CAP XML
and GeoJSON documents whole (the server maps them item by item). Each upload is retried on 429
and 503 (honouring ``Retry-After``) and on network errors, a bounded number of times: retrying is
safe because the server answers a repeated ``source_id`` as a duplicate. A JSON batch refused
for some of its events is sent again without them, and one that is too large is split, so one
bad record does not keep its 499 neighbours out.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from infra.errors import ValidationFailed
from streams.domain import utcnow

JSON_SUFFIXES = frozenset({".json"})
NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})
CAP_SUFFIXES = frozenset({".xml", ".cap"})
GEOJSON_SUFFIXES = frozenset({".geojson"})
KNOWN_SUFFIXES = JSON_SUFFIXES | NDJSON_SUFFIXES | CAP_SUFFIXES | GEOJSON_SUFFIXES
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_REFUSAL_STATUSES = frozenset({400, 403, 413, 422})

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


@dataclass
class Summary:
    files: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: list[Refusal] = field(default_factory=list)
    # Uploads that could not be delivered at all (after retries), with why.
    failed: list[Refusal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "refused": len(self.refused),
            "failed": len(self.failed),
            "skipped": self.skipped,
            "refusals": [r.to_json() for r in self.refused],
            "failures": [r.to_json() for r in self.failed],
        }


# --- reading files ---------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class PushOptions:
    url: str
    domain: str
    key: str
    retries: int = 8
    max_wait_s: float = 60.0
    timeout_s: float = 60.0
    concurrency: int = 1


def retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait: the server's Retry-After (seconds or HTTP date), else backoff."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
        except (TypeError, ValueError):
            pass
    return _backoff(attempt)


def _backoff(attempt: int) -> float:
    return float(min(30.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2))


def _error(response: httpx.Response) -> tuple[str, list[dict[str, Any]]]:
    try:
        error = response.json()["error"]
        return str(error.get("message", "")), list(error.get("details") or [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {response.status_code}: {response.text[:200]}", []


class Pusher:
    def __init__(
        self,
        client: httpx.AsyncClient,
        options: PushOptions,
        summary: Summary,
        on_done: Callable[[Upload], None] = lambda _u: None,
    ) -> None:
        self.client = client
        self.options = options
        self.summary = summary
        self.on_done = on_done
        self._slots = asyncio.Semaphore(max(1, options.concurrency))

    async def push_all(self, uploads: list[Upload]) -> None:
        async def one(upload: Upload) -> None:
            async with self._slots:
                await self.send(upload)
            self.on_done(upload)

        await asyncio.gather(*(one(upload) for upload in uploads))

    async def send(self, upload: Upload) -> None:
        response = await self._post(upload)
        if response is None:
            return
        status = response.status_code
        if status == 202:
            self._accepted(upload, response.json())
            return
        message, details = _error(response)
        if status == 413 and upload.kind == "json" and len(upload.events) > 1:
            half = len(upload.events) // 2
            for part in (
                upload.subset(range(half)),
                upload.subset(range(half, len(upload.events))),
            ):
                await self.send(part)
            return
        if status == 422 and upload.kind == "json" and len(upload.events) > 1:
            bad = _bad_indices(details, len(upload.events))
            if bad and len(bad) < len(upload.events):
                self._refuse_events(upload, message, details, only=bad)
                await self.send(upload.subset(i for i in range(len(upload.events)) if i not in bad))
                return
        if status in _REFUSAL_STATUSES:
            self._refuse_events(upload, message, details)
            return
        self.summary.failed.append(
            Refusal(
                upload.source,
                upload.first,
                None,
                f"HTTP {status}: {message}",
            )
        )

    async def _post(self, upload: Upload) -> httpx.Response | None:
        options = self.options
        params = {"profile": upload.profile} if upload.profile else None
        url = f"{options.url.rstrip('/')}/api/v1/feeds/{options.domain}"
        headers = {"X-API-Key": options.key, "Content-Type": upload.content_type}
        reason = ""
        for attempt in range(options.retries + 1):
            try:
                response = await self.client.post(
                    url, content=upload.body, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                wait = _backoff(attempt)
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return response
                reason = f"HTTP {response.status_code}: {_error(response)[0]}"
                wait = retry_after(response, attempt)
            if attempt < options.retries:
                await asyncio.sleep(min(wait, options.max_wait_s))
        index = upload.first
        self.summary.failed.append(
            Refusal(
                upload.source, index, None, f"gave up after {options.retries + 1} tries: {reason}"
            )
        )
        return None

    def _accepted(self, upload: Upload, body: dict[str, Any]) -> None:
        self.summary.accepted += int(body.get("accepted", 0))
        self.summary.duplicates += int(body.get("duplicates", 0))
        for item in body.get("rejected", []):
            self.summary.refused.append(
                Refusal(
                    upload.source, item.get("index"), item.get("source_id"), item.get("reason", "")
                )
            )

    def _refuse_events(
        self,
        upload: Upload,
        message: str,
        details: list[dict[str, Any]],
        only: set[int] | None = None,
    ) -> None:
        if upload.kind != "json":
            per_item = [d for d in details if d.get("loc") and isinstance(d["loc"][0], int)]
            if per_item and message.startswith("no event"):
                for d in per_item:
                    self.summary.refused.append(
                        Refusal(upload.source, d["loc"][0], d.get("source_id"), str(d.get("msg")))
                    )
                return
            self.summary.refused.append(Refusal(upload.source, None, None, _with(message, details)))
            return
        reasons = _reasons_by_index(details)
        for index, event in enumerate(upload.events):
            if only is not None and index not in only:
                continue
            source_id = event.get("source_id") if isinstance(event, dict) else None
            reason = reasons.get(index) or message
            self.summary.refused.append(
                Refusal(upload.source, upload.positions[index], _text(source_id), reason)
            )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _with(message: str, details: list[dict[str, Any]]) -> str:
    if not details:
        return message
    first = details[0]
    where = ".".join(str(part) for part in first.get("loc", []))
    if not where or str(first.get("msg")) in message:
        return message
    return f"{message} ({where}: {first.get('msg')})"


def _bad_indices(details: list[dict[str, Any]], size: int) -> set[int]:
    return {
        d["loc"][0]
        for d in details
        if d.get("loc") and isinstance(d["loc"][0], int) and 0 <= d["loc"][0] < size
    }


def _reasons_by_index(details: list[dict[str, Any]]) -> dict[int, str]:
    reasons: dict[int, list[str]] = {}
    for d in details:
        loc = d.get("loc") or []
        if loc and isinstance(loc[0], int):
            where = ".".join(str(part) for part in loc[1:])
            reasons.setdefault(loc[0], []).append(
                f"{where}: {d.get('msg')}" if where else str(d.get("msg"))
            )
    return {index: "; ".join(parts) for index, parts in reasons.items()}


async def push_paths(
    paths: list[Path],
    options: PushOptions,
    *,
    batch_size: int = 500,
    profile: str | None = None,
    on_planned: Callable[[int], None] = lambda _n: None,
    on_done: Callable[[Upload], None] = lambda _u: None,
) -> Summary:
    """Push every file under ``paths``; the summary counts what the server said."""
    summary = Summary()
    uploads: list[Upload] = []
    for path in paths:
        files, skipped = collect(path)
        summary.skipped += skipped
        for file in files:
            summary.files += 1
            file_uploads, refused = read_file(file, batch_size=batch_size, profile=profile)
            uploads += file_uploads
            summary.refused += refused
    on_planned(len(uploads))
    limits = httpx.Limits(max_connections=max(1, options.concurrency))
    async with httpx.AsyncClient(timeout=options.timeout_s, limits=limits) as client:
        await Pusher(client, options, summary, on_done).push_all(uploads)
    return summary
