"""Fixed-window attempt counters in Redis, checked and counted in one step.

``acquire`` runs one Lua script: if any counter is at its limit, nothing is counted and
the answer is how long until the fullest one's window ends; otherwise every counter is
incremented. Redis runs a script alone, so N concurrent callers against a limit of L get
exactly L admissions, never more (the race a read-then-increment has). A caller whose
attempt turns out not to count (a login that succeeded) gives it back with ``refund``.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS: counters; ARGV[1]: window (ms); ARGV[1 + i]: the limit of KEYS[i].
# Returns 0 when admitted (every counter incremented), else the ms until one frees up.
_ACQUIRE = """
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, window) end
end
return 0
"""

# KEYS: counters to give one attempt back to (never below zero).
_REFUND = """
for _, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used > 0 then redis.call('DECR', key) end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Counter:
    key: str
    limit: int


def retry_after_seconds(wait_ms: int) -> int:
    """Whole seconds for ``Retry-After`` (never 0: the client would come straight back)."""
    return max(1, math.ceil(wait_ms / 1000))


class AttemptCounters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._refund = redis.register_script(_REFUND)

    async def acquire(self, counters: Sequence[Counter], window_seconds: int) -> int | None:
        """``None`` when the attempt is admitted and counted, else seconds to wait."""
        keys = [c.key for c in counters]
        args = [window_seconds * 1000, *(c.limit for c in counters)]
        wait = int(await self._acquire(keys=keys, args=args))
        return None if wait == 0 else retry_after_seconds(wait)

    async def refund(self, keys: Sequence[str]) -> None:
        if keys:
            await self._refund(keys=list(keys), args=[])

    async def clear(self, keys: Sequence[str]) -> None:
        if keys:
            await self._redis.delete(*keys)
