"""Who is calling the query API and which project they may read: ``common.auth``'s checks
and ``common.membership``'s condition, with the query API's connections and errors.

A query is sent by POST but changes nothing, so under the one Origin rule a cookie
request without ``Origin`` is answered (a foreign one is refused). A project the caller is
not a member of and a project that does not exist get the same 403.
"""

from typing import Any

from aiohttp import web
from psycopg import AsyncConnection
from redis.exceptions import RedisError

from common.auth import Connect, Credentials, authenticate
from common.membership import member_project
from query_api.app_keys import REDIS, SETTINGS
from query_api.errors import Forbidden, Unavailable


async def caller_id(request: web.Request, connect: Connect) -> str:
    """The caller's user id; ``connect`` gives the connection a bearer token is looked up
    with (the handler's, which turns a busy pool into this API's 503)."""
    settings = request.app[SETTINGS]
    try:
        caller = await authenticate(
            Credentials.of(request, changes_state=False),
            redis=request.app[REDIS],
            prefix=settings.redis_prefix,
            connect=connect,
            allowed_origins=settings.app_origins,
        )
    except RedisError:  # down, or out of connections under a burst: retry shortly
        raise Unavailable(settings.retry_after_seconds, "REDIS_UNAVAILABLE") from None
    return caller.user_id


async def readable_project(conn: AsyncConnection[Any], user_id: str, ref: str) -> tuple[str, str]:
    """The id and shard (contracts/shards.py) of the project ``ref`` (slug or id) if
    ``user_id`` is a member, else 403."""
    row = await member_project(conn, user_id, ref, "p.id::text, p.shard")
    if row is None:
        raise Forbidden()
    return str(row[0]), str(row[1])
