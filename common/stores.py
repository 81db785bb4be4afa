"""The shared stores a service holds while it runs: its Redis client and a PostgreSQL pool
for each shard's database, opened at start-up and closed at tear-down in one place.

Each app enters ``opened_stores`` in its ``cleanup_ctx`` and puts what it needs under its
own typed ``web.AppKey``s; how big each pool is stays the service's choice (``pool`` for
the default shard's database, ``shard_pool`` for the others').
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from common.database import DatabasePool
from common.settings import StoreSettings
from contracts.shards import DEFAULT_SHARD

PoolFactory = Callable[[str], DatabasePool]


@dataclass(frozen=True, slots=True)
class Stores:
    redis: Redis
    # Every shard's pool by name (contracts/shards.py), the default shard's first.
    pools: dict[str, DatabasePool]

    @property
    def pool(self) -> DatabasePool:
        """The default shard's: the control database's, which holds the projects."""
        return self.pools[DEFAULT_SHARD]


def shard_pools(
    settings: StoreSettings, pool: PoolFactory, shard_pool: PoolFactory | None = None
) -> dict[str, DatabasePool]:
    """A closed pool for each shard: ``pool``'s of ``database_url`` for the default one
    (also with no shards configured), ``shard_pool``'s (else ``pool``'s) for every other."""
    other = shard_pool or pool
    return {DEFAULT_SHARD: pool(settings.database_url)} | {
        name: other(url) for name, url in settings.shard_databases.items() if name != DEFAULT_SHARD
    }


@asynccontextmanager
async def opened_stores(redis: Redis, pools: dict[str, DatabasePool]) -> AsyncIterator[Stores]:
    """The pools opened without waiting for a connection (a database that is down makes the
    service unready, not unable to start), then every pool and Redis closed on the way out."""
    for each in pools.values():
        await each.open(wait=False)
    try:
        yield Stores(redis, pools)
    finally:
        for each in pools.values():
            await each.close()
        await redis.aclose()
