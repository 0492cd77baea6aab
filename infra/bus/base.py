"""What every bus adapter offers: durable batched publish, and subscription for consumers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of the flow (DESIGN.md): one name each, under a common prefix."""

    raw: str
    events: str
    incidents: str
    commands: str
    console: str
    dead_letters: str

    @classmethod
    def from_prefix(cls, prefix: str) -> Topics:
        return cls(
            raw=f"{prefix}.raw",
            events=f"{prefix}.events",
            incidents=f"{prefix}.incidents",
            commands=f"{prefix}.commands",
            console=f"{prefix}.console",
            dead_letters=f"{prefix}.dead-letters",
        )

    def all(self) -> tuple[str, ...]:
        return (
            self.raw,
            self.events,
            self.incidents,
            self.commands,
            self.console,
            self.dead_letters,
        )


@dataclass(frozen=True, slots=True)
class BusRecord:
    """A message: the key picks the partition (related events share a key, hence an order)."""

    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class BackendHealth:
    ok: bool
    backend: str
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "backend": self.backend, "detail": self.detail}


class Bus(Protocol):
    topics: Topics

    async def start(self) -> None:
        """Connect; raise ``ServiceUnavailable`` with one actionable line when unreachable."""

    async def stop(self) -> None: ...

    async def publish(self, topic: str, records: Sequence[BusRecord]) -> None:
        """Return only once every record is durably accepted; raise ``ServiceUnavailable``."""

    def subscribe(self, topic: str, group: str) -> AsyncGenerator[list[BusRecord], None]:
        """Yield batches of records for one consumer group, in partition order.

        The first batch is always empty: it says the subscription is live (on Kafka, the group
        is joined), so a caller can wait for it before announcing readiness.
        """
        ...

    async def health(self) -> BackendHealth: ...
