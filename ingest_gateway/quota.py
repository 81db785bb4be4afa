"""Monthly event quota: reads the usage state the stream workers keep in Redis.

The count is cached per project-month for a moment (``cache_seconds``): the workers'
state already trails the log by up to a flush, and the cache halves the Redis round trips
of a single-event request.
"""

from datetime import datetime

from redis.asyncio import Redis

from contracts.usage import UsageState, month_of, total_used, usage_key
from ingest_gateway.cache import TtlCache


class QuotaReader:
    def __init__(self, redis: Redis, prefix: str, cache_seconds: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._used: TtlCache[str, int] | None = (
            TtlCache(cache_seconds) if cache_seconds > 0 else None
        )

    async def usage(self, project_id: str, limit: int, now: datetime) -> UsageState:
        """Used so far this month (UTC) against the project's current plan limit."""
        key = usage_key(self._prefix, project_id, month_of(now))
        fresh, used = self._used.get(key) if self._used else (False, None)
        if not fresh or used is None:
            used = total_used(await self._redis.hgetall(key))
            if self._used is not None:
                self._used.put(key, used)
        return UsageState(limit=limit, used=used)
