"""Per-public-key request rate limit: fixed windows in Redis, one atomic Lua script.

Windows are aligned to Redis's own clock (``TIME``), so every gateway process sharing the
Redis agrees on the window and on when it ends, whatever their local clocks say.
"""

import math
from dataclasses import dataclass

from redis.asyncio import Redis

# rate_hit(key prefix, window length in ms) -> {count in window, ms until reset}. A Lua
# function, so the gateway's one admission script (ingest_gateway.admission) calls it too.
RATE_FUNCTION = """
local function rate_hit(prefix, window_length)
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local window_ms = tonumber(window_length)
  local window = math.floor(now_ms / window_ms)
  local key = prefix .. ':' .. window
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('PEXPIRE', key, window_ms + 1000)
  end
  return {count, (window + 1) * window_ms - now_ms}
end
"""
_SCRIPT = RATE_FUNCTION + "return rate_hit(KEYS[1], ARGV[1])"


def rate_key(prefix: str, key_id: str) -> str:
    return f"{prefix}rate:{key_id}"


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def decide(count: int, reset_ms: int, limit: int) -> RateDecision:
    """The request that made the window's count ``count``: admitted while count ≤ limit.
    ``reset_seconds`` rounds up, so a client waiting that long lands in the next window."""
    return RateDecision(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        reset_seconds=max(1, math.ceil(reset_ms / 1000)),
    )


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str, window_seconds: int) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._prefix = prefix
        self._window_ms = window_seconds * 1000

    async def hit(self, key_id: str, limit: int) -> RateDecision:
        count, reset_ms = await self._script(
            keys=[rate_key(self._prefix, key_id)], args=[self._window_ms]
        )
        return decide(int(count), int(reset_ms), limit)


class RefusedKeys:
    """The keys this process saw refused by the rate limit, until their window ends: a
    window's count only grows, so until then they are refused here, without Redis and
    before their body is read — a client hammering past its limit costs almost nothing.
    Bounded: past ``size`` keys, the ones whose window ended are forgotten first."""

    def __init__(self, size: int = 10_000) -> None:
        self._until: dict[str, tuple[float, RateDecision]] = {}
        self._size = size

    def remember(self, key_id: str, decision: RateDecision, now: float) -> None:
        if len(self._until) >= self._size:
            self._until = {k: v for k, v in self._until.items() if v[0] > now}
            if len(self._until) >= self._size:
                self._until.clear()
        self._until[key_id] = (now + decision.reset_seconds, decision)

    def refused(self, key_id: str, now: float) -> RateDecision | None:
        """The refusal still standing for ``key_id`` (its Retry-After counting down)."""
        held = self._until.get(key_id)
        if held is None:
            return None
        until, decision = held
        if now >= until:
            del self._until[key_id]
            return None
        left = max(1, math.ceil(until - now))
        return RateDecision(False, decision.limit, 0, left)
