"""Public key → project, from PostgreSQL, cached in process with a short TTL.

Revoked or rotated keys stop working within the TTL; misses are cached too so a flood of
bad keys does not reach the database. Concurrent look-ups of one key share one query.
"""

import asyncio
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from contracts.api_keys import hash_key, hashes_equal, looks_like_secret_key
from contracts.shards import DEFAULT_SHARD
from ingest_gateway.cache import TtlCache

_LOOKUP = """
SELECT p.id::text, p.slug, p.monthly_event_limit, pl.rate_limit_per_window, k.key_hash, p.shard
FROM api_keys k
JOIN projects p ON p.id = k.project_id
JOIN plans pl ON pl.name = p.plan
WHERE k.key_hash = %s AND k.kind = 'public' AND k.revoked_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    slug: str
    monthly_event_limit: int
    rate_limit: int
    shard: str = DEFAULT_SHARD  # whose database counts its usage (contracts/shards.py)


class ProjectDirectory:
    def __init__(self, pool: AsyncConnectionPool, cache: TtlCache[bytes, Project | None]) -> None:
        self._pool = pool
        self._cache = cache
        self._inflight: dict[bytes, asyncio.Future[Project | None]] = {}

    async def by_public_key(self, api_key: str) -> Project | None:
        if not api_key or looks_like_secret_key(api_key):
            return None
        digest = hash_key(api_key)
        fresh, project = self._cache.get(digest)
        if fresh:
            return project
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Project | None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            project = await self._query(digest)
            self._cache.put(digest, project)
            future.set_result(project)
            return project
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            del self._inflight[digest]

    async def _query(self, digest: bytes) -> Project | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_LOOKUP, (digest,))
            row = await cursor.fetchone()
        if row is None or not hashes_equal(bytes(row[4]), digest):
            return None
        return Project(
            id=row[0], slug=row[1], monthly_event_limit=row[2], rate_limit=row[3], shard=row[5]
        )
