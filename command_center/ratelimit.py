"""Per-agency rate limits on feed intake, counted in events: a 500-event batch costs 500.

A token bucket per agency: ``burst`` tokens, refilled at ``rate_per_second``. A request is let in
when the bucket holds at least ``min(cost, burst)`` tokens and then pays its full cost, so the
bucket may go into debt: a legal batch larger than the burst is never refused for ever, and the
long-run rate still holds because the debt is repaid before the next request gets in.

Two backends, chosen like every other one by URL: in-process (one server, the embedded runtime)
and Redis (``LINKAGE_PUBSUB_URL=redis://…``), where one Lua script reads, refills and charges the
bucket atomically with the Redis clock, so every server of a deployment draws on one budget.
If Redis cannot be reached the limiter lets requests through (and logs): limits protect the
platform, they must not turn a Redis blip into refused emergency feeds.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError

from infra.errors import RateLimited
from infra.settings import Settings

log = logging.getLogger(__name__)


class IntakeLimits(BaseSettings):
    """Rate limits of the feed API (``LINKAGE_INTAKE_*``). Defaults are generous on purpose: a
    provincial water bureau replaying a day of gauge readings must not be throttled."""

    model_config = SettingsConfigDict(env_prefix="LINKAGE_INTAKE_", extra="ignore")

    enabled: bool = True
    # Sustained events per second per agency, and how many may arrive at once.
    rate_per_second: float = Field(default=5000.0, gt=0)
    burst: int = Field(default=50_000, ge=1)
    # Per-agency overrides of the rate, e.g. LINKAGE_INTAKE_AGENCY_RATES='{"water": 20000}'.
    agency_rates: dict[str, float] = Field(default_factory=dict)
    redis_prefix: str = "linkage:intake:bucket"

    def rate_for(self, agency: str) -> float:
        return float(self.agency_rates.get(agency, self.rate_per_second))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Seconds until the request would be let in (0 when allowed).
    retry_after_s: float = 0.0


class RateLimiter(Protocol):
    limits: IntakeLimits

    async def take(self, agency: str, cost: int) -> None:
        """Charge ``cost`` events to ``agency``; raise ``RateLimited`` with Retry-After if over."""

    async def close(self) -> None: ...


def _refuse(agency: str, cost: int, decision: Decision, limits: IntakeLimits) -> RateLimited:
    wait = max(1, math.ceil(decision.retry_after_s))
    return RateLimited(
        f"agency {agency!r} is over its intake rate of {limits.rate_for(agency):g} events/s "
        f"(this request: {cost} events); retry after {wait} s",
        details=[{"loc": ["agency"], "msg": "rate limit", "retry_after_s": wait}],
        retry_after=wait,
    )


class MemoryRateLimiter:
    """Buckets in this process; the clock is monotonic, so wall-clock jumps change nothing."""

    def __init__(self, limits: IntakeLimits) -> None:
        self.limits = limits
        self._buckets: dict[str, tuple[float, float]] = {}

    def decide(self, agency: str, cost: int, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        rate, burst = self.limits.rate_for(agency), float(self.limits.burst)
        tokens, stamp = self._buckets.get(agency, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - stamp) * rate)
        need = min(float(cost), burst)
        if tokens < need:
            self._buckets[agency] = (tokens, now)
            return Decision(False, (need - tokens) / rate)
        self._buckets[agency] = (tokens - cost, now)
        return Decision(True)

    async def take(self, agency: str, cost: int) -> None:
        if not self.limits.enabled:
            return
        decision = self.decide(agency, cost)
        if not decision.allowed:
            raise _refuse(agency, cost, decision, self.limits)

    async def close(self) -> None:
        return None


# KEYS[1] bucket; ARGV rate, burst, cost. Returns {allowed (0/1), seconds to wait as a string}
# (Lua numbers become integers on the way out, so the fraction travels as text).
_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
  stamp = now
end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local need = math.min(cost, burst)
local allowed = 1
local wait = 0
if tokens < need then
  allowed = 0
  wait = (need - tokens) / rate
else
  tokens = tokens - cost
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
-- Forget the bucket once it would be full again anyway.
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


class RedisRateLimiter:
    """One bucket per agency in Redis, shared by every server that uses the same Redis."""

    def __init__(self, url: str, limits: IntakeLimits) -> None:
        self.limits = limits
        self.url = url
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2
        )
        self._script = self._client.register_script(_TOKEN_BUCKET)
        self._warned_at = 0.0

    async def decide(self, agency: str, cost: int) -> Decision:
        answer = await self._script(
            keys=[f"{self.limits.redis_prefix}:{agency}"],
            args=[self.limits.rate_for(agency), self.limits.burst, cost],
        )
        allowed, wait = answer
        return Decision(bool(int(allowed)), float(wait))

    async def take(self, agency: str, cost: int) -> None:
        if not self.limits.enabled:
            return
        try:
            decision = await self.decide(agency, cost)
        except (RedisError, OSError) as exc:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limiter: Redis unreachable (%s); letting feeds in", exc)
            return
        if not decision.allowed:
            raise _refuse(agency, cost, decision, self.limits)

    async def close(self) -> None:
        await self._client.aclose()


def make_limiter(settings: Settings, limits: IntakeLimits | None = None) -> RateLimiter:
    limits = limits or IntakeLimits()
    if settings.pubsub_kind == "redis":
        return RedisRateLimiter(settings.pubsub_url, limits)
    return MemoryRateLimiter(limits)
