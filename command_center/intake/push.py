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
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from command_center.intake.files import (
    Refusal,
    Upload,
    collect,
    read_file,
)
from streams.domain import utcnow

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_REFUSAL_STATUSES = frozenset({400, 403, 413, 422})


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
    # An unreadable HTTP date is no reason to give up: fall back to our own backoff.
    if value:
        with contextlib.suppress(TypeError, ValueError):
            return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
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
