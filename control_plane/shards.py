"""Which database holds a project's events and usage (contracts/shards.py): the pool of its
shard, for the handlers that read what the workers write (usage, access requests, exports)."""

from typing import Any

from aiohttp import web
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from contracts.shards import DEFAULT_SHARD
from control_plane.app_keys import POOL, SHARD_POOLS
from control_plane.errors import Unavailable

RETRY_AFTER_SECONDS = 5


async def project_shard(conn: AsyncConnection[Any], project_id: str) -> str:
    """The shard that holds the project's events (contracts/shards.py)."""
    cursor = await conn.execute("SELECT shard FROM projects WHERE id = %s", (project_id,))
    row = await cursor.fetchone()
    return str(row[0]) if row is not None else DEFAULT_SHARD


async def shard_pool(request: web.Request, project_id: str) -> AsyncConnectionPool:
    """The project's shard's pool; a shard this process was not given (a deployment's
    error) is a 503 ``SHARD_NOT_CONFIGURED``, never another database's rows."""
    async with request.app[POOL].connection() as conn:
        shard = await project_shard(conn, project_id)
    pool: AsyncConnectionPool | None = request.app[SHARD_POOLS].get(shard)
    if pool is None:
        raise Unavailable("SHARD_NOT_CONFIGURED", RETRY_AFTER_SECONDS)
    return pool
