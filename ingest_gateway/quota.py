"""Monthly event quota: reads the usage state the stream workers keep in Redis."""

from datetime import datetime

from redis.asyncio import Redis

from contracts.usage import UsageState, month_of, total_used, usage_key


class QuotaReader:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def usage(self, project_id: str, limit: int, now: datetime) -> UsageState:
        """Used so far this month (UTC) against the project's current plan limit."""
        fields = await self._redis.hgetall(usage_key(self._prefix, project_id, month_of(now)))
        return UsageState(limit=limit, used=total_used(fields))
