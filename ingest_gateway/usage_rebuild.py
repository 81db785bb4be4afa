"""A project-month's usage state rebuilt in Redis from PostgreSQL when Redis lost it.

The admission script reads the monthly usage from one Redis hash (``contracts.usage``); a
FLUSHALL, or a Redis restored without its append-only file, loses it. Read as zero, it let
a project at its limit be admitted a whole month's limit again until a worker's periodic
resync (60 s) rewrote it (1,980 events past a 2,000 limit, tests/faults/test_redis.py). So
the script answers "unknown" for a missing hash, and the gateway rebuilds it here from the
workers' counts in ``usage_partitions`` (the rows and the set-if-newer script of their
resync) before it admits. Lost with the flush: only the reservations then in flight
(answered 200, not yet counted by a worker), a few seconds of a project's events.
"""

import asyncio
from collections.abc import Mapping
from datetime import date, datetime

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from contracts.shards import DEFAULT_SHARD
from contracts.usage import SET_IF_NEWER_SCRIPT, USAGE_TTL_SECONDS, month_of, usage_key

_ROWS = (
    "SELECT partition, used, reserved_seen, last_offset FROM usage_partitions"
    " WHERE project_id = %s AND month = %s"
)

# KEYS[1] usage key; ARGV: limit, ttl seconds. The hash exists afterwards even for a
# project-month nothing was counted in yet, so the next admission knows its usage.
_MARK_KNOWN_SCRIPT = """
redis.call('HSETNX', KEYS[1], 'limit', ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 1
"""


class UnknownShard(LookupError):
    """The project lives on a shard this gateway was not given (RA_SHARD_DATABASES)."""


class UsageRebuilder:
    def __init__(
        self,
        pools: Mapping[str, AsyncConnectionPool],
        redis: Redis,
        prefix: str,
        timeout: float = 2.0,
    ) -> None:
        self._pools = pools  # each shard's database by name: the one counting the project
        self._set_if_newer = redis.register_script(SET_IF_NEWER_SCRIPT)
        self._mark_known = redis.register_script(_MARK_KNOWN_SCRIPT)
        self._prefix = prefix
        self._timeout = timeout
        self._inflight: dict[str, asyncio.Task[int]] = {}

    async def rebuild(
        self, project_id: str, limit: int, now: datetime, shard: str = DEFAULT_SHARD
    ) -> int:
        """Write the project-month's counted usage back to Redis from its shard's database;
        the slots written. Concurrent requests of one project-month share one rebuild."""
        pool = self._pools.get(shard)
        if pool is None:
            raise UnknownShard(shard)
        key = usage_key(self._prefix, project_id, month_of(now))
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._rebuild(pool, key, project_id, limit, now))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _rebuild(
        self, pool: AsyncConnectionPool, key: str, project_id: str, limit: int, now: datetime
    ) -> int:
        async with asyncio.timeout(self._timeout):
            async with pool.connection(timeout=self._timeout) as conn:
                cursor = await conn.execute(_ROWS, (project_id, date(now.year, now.month, 1)))
                rows = await cursor.fetchall()
            for slot, used, seen, offset in rows:
                await self._set_if_newer(
                    keys=[key], args=[slot, used, seen, offset, limit, USAGE_TTL_SECONDS]
                )
            await self._mark_known(keys=[key], args=[limit, USAGE_TTL_SECONDS])
        return len(rows)
