"""Per-public-key request rate limit: fixed windows in Redis, one atomic Lua script.

Windows are aligned to Redis's own clock (``TIME``), so every gateway process sharing the
Redis agrees on the window and on when it ends, whatever their local clocks say.
"""

import math
from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS[1] key prefix; ARGV[1] window length in ms. Returns {count in window, ms until reset}.
_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window_ms = tonumber(ARGV[1])
local window = math.floor(now_ms / window_ms)
local key = KEYS[1] .. ':' .. window
local count = redis.call('INCR', key)
if count == 1 then
  redis.call('PEXPIRE', key, window_ms + 1000)
end
return {count, (window + 1) * window_ms - now_ms}
"""


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
            keys=[f"{self._prefix}rate:{key_id}"], args=[self._window_ms]
        )
        return decide(int(count), int(reset_ms), limit)
