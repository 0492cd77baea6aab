"""The demo scenario: the July 2023 "23·7" Haihe flood in Hebei, replayed as live agency feeds.

``linkage run`` calls :func:`start_demo` once the server listens. It prepares a demo commander
and one API key per feeding agency, prints how to sign in, and starts a background task that
POSTs the scenario (``streams/data/demo_haihe_2023.json``) to the server's own feed API over real
HTTP, exactly as the agencies' systems would: calls with the fire, public-security and health
keys, river gauges and rainfall with the water key, warnings with the meteorology key, unit
positions with the fire key.

Time is compressed: by default one scenario hour passes in three seconds (gaps capped at
``max_gap_s``), so the 78 hours from 29 Jul 08:00 to 1 Aug 14:00 take about three to four minutes.
The replay runs once and then stops. Source ids are fixed, so a restart on the same data directory
replays into duplicates (the intake answers them as such) and the console keeps its picture.

The credentials are kept in ``<data_dir>/demo-credentials.json`` (mode 0600) so that a restart
reuses the same user, password and keys instead of piling up new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.auth import (
    Role,
    authenticate,
    create_key,
    create_user,
    hash_password,
    issue_token,
    signing_secret,
    verify_key,
)
from infra.db.models import UserRow
from infra.errors import AuthenticationFailed
from infra.runtime import Runtime
from streams.domain import Domain

log = logging.getLogger(__name__)

SCENARIO_PATH = Path(__file__).resolve().parent / "data" / "demo_haihe_2023.json"
DEMO_USER = "demo-commander"
CREDENTIALS_FILE = "demo-credentials.json"
DEFAULT_SPEED = 1200.0  # scenario seconds per real second: one hour in 3 s
MAX_GAP_S = 8.0  # a quiet night in the scenario should not stall the console
MAX_ATTEMPTS = 8
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class ScenarioItem:
    agency: str
    domain: Domain
    event: dict[str, Any]
    occurred_at: datetime
    sample: bool
    note: str


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    start: datetime
    end: datetime
    items: tuple[ScenarioItem, ...]

    def agency_domains(self) -> dict[str, set[Domain]]:
        """Which domains each feeding agency's key must allow."""
        needs: dict[str, set[Domain]] = {}
        for item in self.items:
            needs.setdefault(item.agency, set()).add(item.domain)
        return needs


def load_scenario(path: Path = SCENARIO_PATH) -> Scenario:
    raw = json.loads(path.read_text(encoding="utf-8"))
    items = tuple(
        ScenarioItem(
            agency=str(item["agency"]),
            domain=Domain(item["domain"]),
            event=dict(item["event"]),
            occurred_at=datetime.fromisoformat(item["event"]["occurred_at"]),
            sample=bool(item.get("sample", False)),
            note=str(item.get("note", "")),
        )
        for item in raw["items"]
    )
    return Scenario(
        name=str(raw["name"]),
        start=datetime.fromisoformat(raw["start"]),
        end=datetime.fromisoformat(raw["end"]),
        items=tuple(sorted(items, key=lambda item: item.occurred_at)),
    )


# --- credentials ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    username: str
    password: str
    keys: dict[str, str]
    token: str


def _read_stored(path: Path) -> dict[str, Any]:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _write_stored(path: Path, value: dict[str, Any]) -> None:
    # Created 0600 from the start: the file holds a password and agency keys.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(value, out, ensure_ascii=False, indent=1)


def prepare_credentials(runtime: Runtime, needs: dict[str, set[Domain]]) -> DemoCredentials:
    """The demo commander and one key per agency: reused when still valid, else (re)made."""
    path = runtime.settings.data_dir / CREDENTIALS_FILE
    stored = _read_stored(path)
    password = str(stored.get("password") or "")
    stored_keys = stored.get("keys")
    keys: dict[str, str] = (
        {str(k): str(v) for k, v in stored_keys.items()} if isinstance(stored_keys, dict) else {}
    )
    with runtime.sessions() as session, session.begin():
        row = session.scalar(select(UserRow).where(UserRow.username == DEMO_USER))
        if row is None:
            password = secrets.token_urlsafe(9)
            create_user(session, DEMO_USER, Role.COMMANDER.value, password)
            session.flush()
        else:
            try:
                authenticate(session, DEMO_USER, password)
            except AuthenticationFailed:
                # The stored password is lost or stale: give the demo user a fresh one.
                password = secrets.token_urlsafe(9)
                row.password_hash = hash_password(password)
                row.disabled_at = None
                session.flush()
        for agency, domains in sorted(needs.items()):
            key = keys.get(agency)
            if key is not None and _key_still_serves(session, key, agency, domains):
                continue
            keys[agency], _row = create_key(session, agency, sorted(domains))
        user = authenticate(session, DEMO_USER, password)
        secret = signing_secret(session, runtime.settings.secret_key)
    _write_stored(path, {"username": DEMO_USER, "password": password, "keys": keys})
    token = issue_token(user, secret, runtime.settings.token_ttl_seconds)
    return DemoCredentials(DEMO_USER, password, keys, token)


def _key_still_serves(session: Session, key: str, agency: str, domains: set[Domain]) -> bool:
    try:
        principal = verify_key(session, key)
    except AuthenticationFailed:
        return False
    return principal.agency == agency and domains <= principal.domains


# --- replay --------------------------------------------------------------------------------------


@dataclass
class DemoStats:
    posted: int = 0
    accepted: int = 0
    duplicates: int = 0
    failed: int = 0
    done: bool = False
    errors: list[str] = field(default_factory=list)


Sleep = Callable[[float], Awaitable[None]]


def batches(scenario: Scenario) -> list[list[ScenarioItem]]:
    """Consecutive items of one agency, domain and instant go out as one array, as a feed
    gateway batches readings taken at the same time."""
    grouped: list[list[ScenarioItem]] = []
    previous: tuple[str, Domain, datetime] | None = None
    for item in scenario.items:
        key = (item.agency, item.domain, item.occurred_at)
        if key == previous:
            grouped[-1].append(item)
        else:
            grouped.append([item])
        previous = key
    return grouped


def _summary(item: ScenarioItem) -> str:
    data = item.event.get("data") or {}
    where = data.get("address") or data.get("station_name") or data.get("name") or ""
    what = item.event.get("type", "")
    if what == "call":
        what = f"{data.get('channel')} {data.get('category')}"
    for name, unit in (("flow_m3s", "m³/s"), ("mm_24h", "mm/24h"), ("inflow_m3s", "m³/s in")):
        if name in data:
            return f"{what} {where} {data[name]:g} {unit}"
    if what == "weather_warning":
        where = f"{data.get('issued_by', '')} {data.get('colour', '')}"
    return f"{what} {where}".strip()


class DemoPlayer:
    """Posts a scenario to a Linkage server with compressed time, retrying what fails."""

    def __init__(
        self,
        scenario: Scenario,
        base_url: str,
        keys: dict[str, str],
        *,
        speed: float = DEFAULT_SPEED,
        max_gap_s: float = MAX_GAP_S,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.scenario = scenario
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.speed = speed
        self.max_gap_s = max_gap_s
        self.sleep = sleep
        self.stats = DemoStats()

    async def run(self, client: httpx.AsyncClient | None = None) -> DemoStats:
        plan = batches(self.scenario)
        log.info(
            "demo: replaying %s: %d events in %d posts at %gx",
            self.scenario.name,
            len(self.scenario.items),
            len(plan),
            self.speed,
        )
        own = client is None
        http = client or httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        try:
            previous: datetime | None = None
            for index, batch in enumerate(plan, start=1):
                at = batch[0].occurred_at
                if previous is not None:
                    gap = (at - previous).total_seconds() / self.speed
                    await self.sleep(min(max(gap, 0.0), self.max_gap_s))
                previous = at
                await self._post(http, batch, f"{index}/{len(plan)}")
        finally:
            if own:
                await http.aclose()
        self.stats.done = True
        log.info(
            "demo: scenario complete: %d accepted, %d duplicates, %d failed; the replay stops here",
            self.stats.accepted,
            self.stats.duplicates,
            self.stats.failed,
        )
        return self.stats

    async def _post(self, http: httpx.AsyncClient, batch: list[ScenarioItem], step: str) -> None:
        first = batch[0]
        url = f"{self.base_url}/api/v1/feeds/{first.domain.value}"
        body: Any = first.event if len(batch) == 1 else [item.event for item in batch]
        headers = {"X-API-Key": self.keys[first.agency]}
        label = f"{first.occurred_at:%m-%d %H:%M} {first.agency}: {_summary(first)}"
        if len(batch) > 1:
            label += f" (+{len(batch) - 1})"
        delay = 0.5
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.stats.posted += 1
            try:
                answer = await http.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                retry = True
                retry_after: float | None = None
            else:
                if answer.status_code == 202:
                    result = answer.json()
                    self.stats.accepted += int(result.get("accepted", 0))
                    self.stats.duplicates += int(result.get("duplicates", 0))
                    log.info(
                        "demo %s %s → %s accepted, %s duplicate",
                        step,
                        label,
                        result.get("accepted"),
                        result.get("duplicates"),
                    )
                    return
                problem = f"HTTP {answer.status_code}: {answer.text[:500]}"
                retry = answer.status_code in _RETRY_STATUS
                retry_after = _retry_after(answer)
            if not retry or attempt == MAX_ATTEMPTS:
                # A refusal (4xx) will not change on retry: log it with its body and move on.
                self.stats.failed += len(batch)
                self.stats.errors.append(f"{label}: {problem}")
                log.error("demo %s %s failed for good: %s", step, label, problem)
                return
            wait = retry_after if retry_after is not None else delay
            log.warning(
                "demo %s %s failed (attempt %d), retrying in %.1f s: %s",
                step,
                label,
                attempt,
                wait,
                problem,
            )
            # Source ids are idempotency keys, so a retry after a lost answer is harmless.
            await self.sleep(wait)
            delay = min(delay * 2, 30.0)


def _retry_after(answer: httpx.Response) -> float | None:
    value = answer.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), 60.0)
    except ValueError:
        return None


# --- entry point ---------------------------------------------------------------------------------

_RUNNING: dict[asyncio.Task[DemoStats], DemoPlayer] = {}
_STARTED: list[DemoPlayer] = []


async def start_demo(
    runtime: Runtime,
    base_url: str,
    *,
    speed: float = DEFAULT_SPEED,
    max_gap_s: float = MAX_GAP_S,
    scenario_path: Path = SCENARIO_PATH,
) -> None:
    """Prepare the demo user and keys, print how to sign in, start the replay; returns at once."""
    scenario = load_scenario(scenario_path)
    httpx_log = logging.getLogger("httpx")
    if httpx_log.level == logging.NOTSET:
        # httpx logs every request at INFO; the replay logs each post itself, with its meaning.
        httpx_log.setLevel(logging.WARNING)
    credentials = await asyncio.to_thread(prepare_credentials, runtime, scenario.agency_domains())
    base = base_url.rstrip("/")
    print(
        f"Demo: sign in as {credentials.username} / {credentials.password}, "
        f"or open {base}/console/#token={credentials.token}",
        flush=True,
    )
    player = DemoPlayer(scenario, base, credentials.keys, speed=speed, max_gap_s=max_gap_s)
    task = asyncio.create_task(player.run(), name="linkage-demo")
    _RUNNING[task] = player
    _STARTED.append(player)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[DemoStats]) -> None:
    _RUNNING.pop(task, None)
    if not task.cancelled() and task.exception() is not None:
        log.error("demo replay crashed", exc_info=task.exception())


def running_players() -> list[DemoPlayer]:
    """The replays in progress."""
    return list(_RUNNING.values())


def started_players() -> list[DemoPlayer]:
    """Every replay started in this process, the latest last, with its statistics."""
    return list(_STARTED)


async def stop_demo() -> None:
    """Cancel every replay in progress and wait for them to end."""
    tasks = list(_RUNNING)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
