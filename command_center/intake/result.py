"""What every intake parser returns: the accepted items and the refused ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.domain import Domain
from streams.envelope import EventEnvelope


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One event read from an agency document, ready for the feed pipeline."""

    domain: Domain
    envelope: EventEnvelope
    # The alert's own XML for CAP, so that the message as sent can be kept; None otherwise.
    original: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """One item of a document that was refused while the others were accepted."""

    index: int
    source_id: str | None
    reason: str
    details: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "source_id": self.source_id,
            "reason": self.reason,
            "details": list(self.details),
        }


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Accepted items in document order, and the items refused one by one.

    A document that cannot be read at all raises instead (``InvalidInput``, ``PayloadTooLarge``,
    ``ValidationFailed``); a result with no items and some rejections is the caller's to answer.
    Iterating a result iterates its accepted items.
    """

    items: tuple[ParsedItem, ...] = ()
    rejected: tuple[Rejection, ...] = field(default=())

    def __iter__(self) -> Iterator[ParsedItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> ParsedItem:
        return self.items[index]
